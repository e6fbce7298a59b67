// GET /api/v1/sensors: every sensor matching the filters (up to 10,000), for the virtualized table.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { SensorPage, SensorSource, SensorStatus, SensorType } from '@/lib/api/types';

export interface SensorFilters {
  status?: SensorStatus | null;
  type?: SensorType | null;
  q?: string | null;
  source?: SensorSource | null;
}

export const SENSOR_PAGE_LIMIT = 10_000;

export function getSensors(filters: SensorFilters, signal?: AbortSignal): Promise<SensorPage> {
  const query = {
    status: filters.status ?? undefined,
    type: filters.type ?? undefined,
    q: filters.q?.trim() || undefined,
    source: filters.source ?? undefined,
    limit: SENSOR_PAGE_LIMIT,
    offset: 0,
  };
  return unwrap(api.GET('/api/v1/sensors', { params: { query }, signal }));
}

export function sensorsQueryOptions(filters: SensorFilters) {
  return queryOptions({
    queryKey: [
      'sensors',
      'list',
      {
        status: filters.status ?? null,
        type: filters.type ?? null,
        q: filters.q?.trim() ?? '',
        source: filters.source ?? null,
      },
    ],
    queryFn: ({ signal }) => getSensors(filters, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
}

export function useSensors(filters: SensorFilters) {
  return useQuery(sensorsQueryOptions(filters));
}
