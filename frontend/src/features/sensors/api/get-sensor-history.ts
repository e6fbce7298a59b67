// GET /api/analytics/history for one sensor: the detail panel's last hour.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch, apiUrl } from '@/lib/api-client';
import type { History } from '@/types/api';

export const SENSOR_HISTORY_WINDOW_S = 3600;

export function getSensorHistory(id: string, now: number, signal?: AbortSignal): Promise<History> {
  const url = apiUrl('/api/analytics/history', {
    sensor: id,
    metric: 'mean',
    from: Math.floor(now - SENSOR_HISTORY_WINDOW_S),
    to: Math.ceil(now),
    step: 60,
  });
  return apiFetch<History>(url, { signal });
}

export function sensorHistoryQueryOptions(id: string) {
  return queryOptions({
    queryKey: ['analytics', 'sensor-history', id],
    queryFn: ({ signal }) => getSensorHistory(id, Date.now() / 1000, signal),
    refetchInterval: 60_000,
    retry: false,
  });
}

export function useSensorHistory(id: string) {
  return useQuery(sensorHistoryQueryOptions(id));
}
