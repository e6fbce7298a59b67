// One TanStack Query client for the app: short stale times (live data) and no retries on 4xx.
import { QueryClient } from '@tanstack/react-query';

import { isRetryable } from '@/lib/api-client';

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 2_000,
        refetchOnWindowFocus: false,
        retry: (failures, error) => failures < 3 && isRetryable(error),
        retryDelay: (attempt) => Math.min(500 * 2 ** attempt, 8_000),
      },
      mutations: { retry: false },
    },
  });
}
