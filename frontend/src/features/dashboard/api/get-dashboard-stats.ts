// GET /api/v1/dashboard/stats: site aggregates (the live feed refreshes them; this is the first paint and fallback).
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { DashboardStats } from '@/lib/api/types';

export function getDashboardStats(signal?: AbortSignal): Promise<DashboardStats> {
  return unwrap(api.GET('/api/v1/dashboard/stats', { signal }));
}

export function dashboardStatsQueryOptions() {
  return queryOptions({
    queryKey: ['dashboard', 'stats'],
    queryFn: ({ signal }) => getDashboardStats(signal),
    refetchInterval: 10_000,
  });
}

export function useDashboardStats() {
  return useQuery(dashboardStatsQueryOptions());
}
