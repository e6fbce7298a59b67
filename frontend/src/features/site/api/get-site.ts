// GET /api/v1/site: the operator's status of this EnergySite, or local mode outside Kubernetes.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { SiteStatus } from '@/lib/api/types';

export function getSite(signal?: AbortSignal): Promise<SiteStatus> {
  return unwrap(api.GET('/api/v1/site', { signal }));
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
