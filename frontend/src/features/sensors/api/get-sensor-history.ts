// GET /api/v1/analytics/history for one sensor: the detail panel's last hour.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { History } from '@/lib/api/types';

export const SENSOR_HISTORY_WINDOW_S = 3600;

export function getSensorHistory(id: string, now: number, signal?: AbortSignal): Promise<History> {
  const query = {
    sensor: id,
    metric: 'mean' as const,
    from: String(Math.floor(now - SENSOR_HISTORY_WINDOW_S)),
    to: String(Math.ceil(now)),
    step: 60,
  };
  return unwrap(api.GET('/api/v1/analytics/history', { params: { query }, signal }));
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
