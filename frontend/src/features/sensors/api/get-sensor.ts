// GET /api/sensors/{id}: one sensor's latest state, polled for the detail panel's live sparkline.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch } from '@/lib/api-client';
import type { SensorState } from '@/types/api';

export function getSensor(id: string, signal?: AbortSignal): Promise<SensorState> {
  return apiFetch<SensorState>(`/api/sensors/${encodeURIComponent(id)}`, { signal });
}

export function sensorQueryOptions(id: string) {
  return queryOptions({
    queryKey: ['sensors', 'detail', id],
    queryFn: ({ signal }) => getSensor(id, signal),
    refetchInterval: 2_000,
  });
}

export function useSensor(id: string) {
  return useQuery(sensorQueryOptions(id));
}
