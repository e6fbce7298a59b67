// The site's tariff currency (GET /api/v1/optimization/tariff: no suggestion computation), to price energy.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';

export async function getCurrency(signal?: AbortSignal): Promise<string> {
  const tariff = await unwrap(api.GET('/api/v1/optimization/tariff', { signal }));
  return tariff.currency;
}

export function currencyQueryOptions() {
  return queryOptions({
    queryKey: ['optimization', 'currency'],
    queryFn: ({ signal }) => getCurrency(signal),
    staleTime: 5 * 60_000,
    retry: false,
  });
}

export function useCurrency() {
  return useQuery(currencyQueryOptions());
}
