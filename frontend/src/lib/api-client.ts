// The typed API client: openapi-fetch over the paths generated from the API's OpenAPI (src/lib/api/schema.d.ts).
// Non-2xx answers become ApiError with the problem's detail (the API answers RFC 9457 problem+json).
import createClient from 'openapi-fetch';

import type { paths } from '@/lib/api/schema';
import { getSettings } from '@/lib/settings-store';

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;

  constructor(status: number, detail: string) {
    super(`HTTP ${status}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }
}

/** The stored token on every request that carries none, so reads work when the API requires OIDC tokens. */
export function withToken(request: Request): Request {
  const { token } = getSettings();
  if (!token || request.headers.has('Authorization')) return request;
  const headers = new Headers(request.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return new Request(request, { headers });
}

/** The client; fetch is looked up per call so tests can replace it. */
export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? '',
  fetch: (request: Request) => globalThis.fetch(withToken(request)),
});

function detailOf(error: unknown, fallback: string): string {
  if (error && typeof error === 'object') {
    const body = error as { detail?: unknown; title?: unknown };
    if (typeof body.detail === 'string') return body.detail;
    if (typeof body.title === 'string') return body.title;
    return JSON.stringify(error);
  }
  return typeof error === 'string' && error ? error : fallback;
}

/** The body of a successful answer; throws ApiError otherwise. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, detailOf(error, response.statusText || 'request failed'));
  return data as T;
}

/** Bearer authorization for writes. */
export function bearer(token: string): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** True for errors worth retrying (network trouble, 5xx); 4xx means the request itself is wrong. */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof ApiError) || error.status >= 500;
}
