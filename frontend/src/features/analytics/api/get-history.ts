// GET /api/analytics/history: bucketed history of one sensor or one sensor type.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch, apiUrl } from '@/lib/api-client';
import type { History, HistoryMetric, SensorType } from '@/types/api';

export interface HistoryQuery {
  sensor?: string | null;
  type?: SensorType | null;
  metric: HistoryMetric;
  /** Epoch seconds. */
  from: number;
  to: number;
  /** Bucket width in seconds. */
  step: number;
}

export function getHistory(query: HistoryQuery, signal?: AbortSignal): Promise<History> {
  const url = apiUrl('/api/analytics/history', {
    sensor: query.sensor,
    type: query.sensor ? undefined : query.type,
    metric: query.metric,
    from: Math.floor(query.from),
    to: Math.ceil(query.to),
    step: query.step,
  });
  return apiFetch<History>(url, { signal });
}

export function historyQueryOptions(query: HistoryQuery) {
  return queryOptions({
    queryKey: ['analytics', 'history', query],
    queryFn: ({ signal }) => getHistory(query, signal),
    placeholderData: keepPreviousData,
    enabled: Boolean(query.sensor || query.type),
  });
}

export function useHistory(query: HistoryQuery) {
  return useQuery(historyQueryOptions(query));
}
