// Energy metered today (local midnight to now) for the whole site, from the history rollups.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';

export function startOfToday(now = new Date()): number {
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  return Math.floor(midnight.getTime() / 1000);
}

export async function getEnergyToday(signal?: AbortSignal, now = new Date()): Promise<number> {
  const from = startOfToday(now);
  const to = Math.max(from + 60, Math.ceil(now.getTime() / 1000));
  const query = { metric: 'energy_kwh' as const, from: String(from), to: String(to), step: 3600 };
  const history = await unwrap(api.GET('/api/v1/analytics/history', { params: { query }, signal }));
  return history.points.reduce((sum, p) => sum + p.value, 0);
}

export function energyTodayQueryOptions() {
  return queryOptions({
    queryKey: ['dashboard', 'energy-today'],
    queryFn: ({ signal }) => getEnergyToday(signal),
    refetchInterval: 30_000,
    retry: false,
  });
}

export function useEnergyToday() {
  return useQuery(energyTodayQueryOptions());
}
