// GET /api/v1/site/config: the site's name, time zone and currency; the app shell puts the zone into lib/site-time.
import { queryOptions, useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';

import { api, unwrap } from '@/lib/api-client';
import type { SiteConfig } from '@/lib/api/types';
import { setSiteTimeZone } from '@/lib/site-time';

export function getSiteConfig(signal?: AbortSignal): Promise<SiteConfig> {
  return unwrap(api.GET('/api/v1/site/config', { signal }));
}

export function siteConfigQueryOptions() {
  return queryOptions({
    queryKey: ['site', 'config'],
    queryFn: ({ signal }) => getSiteConfig(signal),
    staleTime: 5 * 60_000,
    refetchInterval: 5 * 60_000,
  });
}

export function useSiteConfig() {
  return useQuery(siteConfigQueryOptions());
}

/** Keep the site's time zone (every formatter and chart reads it) in step with the API. */
export function useSiteTimeZoneSync(): void {
  const config = useSiteConfig();
  const zone = config.data?.timezone ?? null;
  useEffect(() => {
    if (zone) setSiteTimeZone(zone);
  }, [zone]);
}
