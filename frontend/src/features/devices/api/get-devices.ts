// GET /api/v1/devices and /api/v1/devices/sensors: gateways the ingest heard from and the sensors they declared.
import { queryOptions, useQuery } from '@tanstack/react-query';

import { api, unwrap } from '@/lib/api-client';
import type { DeclaredSensorPage, GatewayPage } from '@/lib/api/types';

export function getDevices(signal?: AbortSignal): Promise<GatewayPage> {
  return unwrap(api.GET('/api/v1/devices', { params: { query: { limit: 1000 } }, signal }));
}

export function devicesQueryOptions() {
  return queryOptions({
    queryKey: ['devices'],
    queryFn: ({ signal }) => getDevices(signal),
    refetchInterval: 5_000,
  });
}

export function useDevices() {
  return useQuery(devicesQueryOptions());
}

export function getDeclaredSensors(gateway: string, signal?: AbortSignal): Promise<DeclaredSensorPage> {
  return unwrap(api.GET('/api/v1/devices/sensors', { params: { query: { gateway, limit: 1000 } }, signal }));
}

export function declaredSensorsQueryOptions(gateway: string) {
  return queryOptions({
    queryKey: ['devices', gateway, 'sensors'],
    queryFn: ({ signal }) => getDeclaredSensors(gateway, signal),
  });
}

export function useDeclaredSensors(gateway: string | null) {
  return useQuery({ ...declaredSensorsQueryOptions(gateway ?? ''), enabled: gateway !== null });
}
