// GET /api/v1/sensors/{id}: one sensor's latest state, polled for the detail panel's live sparkline.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { SensorState } from '@/lib/api/types';

export function getSensor(id: string, signal?: AbortSignal): Promise<SensorState> {
  return unwrap(api.GET('/api/v1/sensors/{sensor_id}', { params: { path: { sensor_id: id } }, signal }));
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
