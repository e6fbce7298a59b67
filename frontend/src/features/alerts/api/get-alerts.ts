// GET /api/alerts: alerts by state (active, acknowledged, cleared), newest first, paginated.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch, apiUrl } from '@/lib/api-client';
import type { AlertPage, AlertState } from '@/types/api';

export interface AlertFilters {
  state: AlertState;
  severity?: string | null;
  sensor?: string | null;
  limit?: number;
  offset?: number;
}

export function getAlerts(filters: AlertFilters, signal?: AbortSignal): Promise<AlertPage> {
  const url = apiUrl('/api/alerts', {
    state: filters.state,
    severity: filters.severity,
    sensor: filters.sensor,
    limit: filters.limit ?? 100,
    offset: filters.offset ?? 0,
  });
  return apiFetch<AlertPage>(url, { signal });
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
