// GET /api/v1/analytics/energy: today's energy (since the site's local midnight) and its cost at the site's tariff.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { EnergyCost } from '@/lib/api/types';

/** No from/to: the server starts at the site's local midnight, in the site's time zone. */
export function getEnergyToday(signal?: AbortSignal): Promise<EnergyCost> {
  return unwrap(api.GET('/api/v1/analytics/energy', { params: { query: { per: 'day' } }, signal }));
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
