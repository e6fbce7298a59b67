// GET /api/v1/analytics/history: bucketed history of one sensor or one sensor type.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { History, HistoryMetric, SensorType } from '@/lib/api/types';

export interface HistoryQuery {
  sensor?: string | null;
  type?: SensorType | null;
  metric: HistoryMetric;
  /** Epoch seconds. */
  from: number;
  to: number;
  /** Bucket width in seconds (ignored with `per`). */
  step: number;
  /** Calendar buckets in the site's time zone instead of `step` (a DST day is one bucket of 23 or 25 hours). */
  per?: 'day' | 'hour' | null;
}

export function getHistory(query: HistoryQuery, signal?: AbortSignal): Promise<History> {
  const params = {
    sensor: query.sensor || undefined,
    type: query.sensor ? undefined : (query.type ?? undefined),
    metric: query.metric,
    from: String(Math.floor(query.from)),
    to: String(Math.ceil(query.to)),
    step: query.per ? undefined : query.step,
    per: query.per ?? undefined,
  };
  return unwrap(api.GET('/api/v1/analytics/history', { params: { query: params }, signal }));
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
