// GET /api/v1/forecast (the latest forecast with its band and model) and /api/v1/forecast/actual (the measured load).
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { Forecast, ForecastActual } from '@/lib/api/types';

export interface ForecastQuery {
  scope: 'site' | 'machine';
  id?: string;
}

export function getForecast(query: ForecastQuery, signal?: AbortSignal): Promise<Forecast> {
  const params = { scope: query.scope, id: query.id || undefined };
  return unwrap(api.GET('/api/v1/forecast', { params: { query: params }, signal }));
}

export function forecastQueryOptions(query: ForecastQuery) {
  return queryOptions({
    queryKey: ['forecast', query],
    queryFn: ({ signal }) => getForecast(query, signal),
    refetchInterval: 60_000,
    retry: false,
  });
}

export function useForecast(query: ForecastQuery) {
  return useQuery(forecastQueryOptions(query));
}

export interface ActualQuery extends ForecastQuery {
  /** Epoch seconds. */
  from: number;
  to: number;
  step: number;
}

export function getActual(query: ActualQuery, signal?: AbortSignal): Promise<ForecastActual> {
  const params = {
    scope: query.scope,
    id: query.id || undefined,
    from: String(Math.floor(query.from)),
    to: String(Math.ceil(query.to)),
    step: query.step,
  };
  return unwrap(api.GET('/api/v1/forecast/actual', { params: { query: params }, signal }));
}

export function actualQueryOptions(query: ActualQuery, enabled: boolean) {
  return queryOptions({
    queryKey: ['forecast', 'actual', query],
    queryFn: ({ signal }) => getActual(query, signal),
    refetchInterval: 60_000,
    retry: false,
    enabled,
  });
}

export function useActual(query: ActualQuery, enabled = true) {
  return useQuery(actualQueryOptions(query, enabled));
}
