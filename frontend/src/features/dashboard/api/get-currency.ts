// The site's tariff currency, as the optimization service reports it (used to price energy on the dashboard).
import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch } from '@/lib/api-client';
import type { Suggestions } from '@/types/api';

export async function getCurrency(signal?: AbortSignal): Promise<string> {
  const suggestions = await apiFetch<Suggestions>('/api/optimization/suggestions', { signal });
  return suggestions.currency;
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
