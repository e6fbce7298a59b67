// GET /api/v1/optimization/suggestions: energy-saving suggestions with priority, evidence and savings.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { Suggestion, Suggestions } from '@/lib/api/types';

export interface SuggestionFilters {
  kind?: Suggestion['kind'] | null;
  minPriority?: number | null;
}

export function getSuggestions(filters: SuggestionFilters, signal?: AbortSignal): Promise<Suggestions> {
  const query = { kind: filters.kind || undefined, min_priority: filters.minPriority ?? undefined, limit: 1000 };
  return unwrap(api.GET('/api/v1/optimization/suggestions', { params: { query }, signal }));
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
