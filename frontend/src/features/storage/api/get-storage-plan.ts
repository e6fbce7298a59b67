// GET /api/v1/storage/plan: the storage optimizer's current battery plan (404 until the first plan).
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { StoragePlan } from '@/lib/api/types';

export function getStoragePlan(signal?: AbortSignal): Promise<StoragePlan> {
  return unwrap(api.GET('/api/v1/storage/plan', { signal }));
}

export function storagePlanQueryOptions() {
  return queryOptions({
    queryKey: ['storage-plan'],
    queryFn: ({ signal }) => getStoragePlan(signal),
    refetchInterval: 30_000,
  });
}

export function useStoragePlan() {
  return useQuery(storagePlanQueryOptions());
}
