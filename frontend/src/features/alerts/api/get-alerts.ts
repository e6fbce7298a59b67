// GET /api/v1/alerts: alerts by state (active, acknowledged, cleared), newest first, paginated.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { AlertPage, AlertState, CriticalAlert } from '@/lib/api/types';

export interface AlertFilters {
  state: AlertState;
  severity?: CriticalAlert['severity'] | null;
  sensor?: string | null;
  limit?: number;
  offset?: number;
}

export function getAlerts(filters: AlertFilters, signal?: AbortSignal): Promise<AlertPage> {
  const query = {
    state: filters.state,
    severity: filters.severity || undefined,
    sensor: filters.sensor || undefined,
    limit: filters.limit ?? 100,
    offset: filters.offset ?? 0,
  };
  return unwrap(api.GET('/api/v1/alerts', { params: { query }, signal }));
}

export function alertsQueryOptions(filters: AlertFilters) {
  return queryOptions({
    queryKey: ['alerts', 'list', filters],
    queryFn: ({ signal }) => getAlerts(filters, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 5_000,
  });
}

export function useAlerts(filters: AlertFilters) {
  return useQuery(alertsQueryOptions(filters));
}
