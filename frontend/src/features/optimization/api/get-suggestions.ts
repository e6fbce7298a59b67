// GET /api/optimization/suggestions: energy-saving suggestions with priority, evidence and savings.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch, apiUrl } from '@/lib/api-client';
import type { Suggestions } from '@/types/api';

export interface SuggestionFilters {
  kind?: string | null;
  minPriority?: number | null;
}

export function getSuggestions(filters: SuggestionFilters, signal?: AbortSignal): Promise<Suggestions> {
  return apiFetch<Suggestions>(
    apiUrl('/api/optimization/suggestions', { kind: filters.kind, min_priority: filters.minPriority }),
    { signal },
  );
}

export function suggestionsQueryOptions(filters: SuggestionFilters) {
  return queryOptions({
    queryKey: ['optimization', 'suggestions', { kind: filters.kind ?? null, minPriority: filters.minPriority ?? null }],
    queryFn: ({ signal }) => getSuggestions(filters, signal),
    refetchInterval: 30_000,
  });
}

export function useSuggestions(filters: SuggestionFilters) {
  return useQuery(suggestionsQueryOptions(filters));
}
