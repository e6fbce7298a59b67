// GET /api/site: the operator's status of this EnergySite, or local mode outside Kubernetes.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiFetch } from '@/lib/api-client';
import type { SiteStatus } from '@/types/api';

export function getSite(signal?: AbortSignal): Promise<SiteStatus> {
  return apiFetch<SiteStatus>('/api/site', { signal });
}

export function siteQueryOptions() {
  return queryOptions({
    queryKey: ['site'],
    queryFn: ({ signal }) => getSite(signal),
    refetchInterval: 10_000,
  });
}

export function useSite() {
  return useQuery(siteQueryOptions());
}
