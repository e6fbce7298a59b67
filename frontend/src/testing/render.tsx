// Render a view inside the app's providers with a memory router, a fresh query client and a test live store.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { createMemoryRouter, RouterProvider } from 'react-router';

import { LiveProvider } from '@/hooks/use-live';
import { LiveStore } from '@/lib/live-store';

export interface RenderOptions {
  path?: string;
  route?: string;
  store?: LiveStore;
}

export function renderView(
  element: ReactElement,
  { path = '/', route = '/', store = new LiveStore() }: RenderOptions = {},
) {
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false, refetchInterval: false }, mutations: { retry: false } },
  });
  const router = createMemoryRouter(
    [
      { path, element },
      { path: '*', element: <p>elsewhere</p> },
    ],
    { initialEntries: [route] },
  );
  const result = render(
    <QueryClientProvider client={client}>
      <LiveProvider store={store} enabled={false}>
        <RouterProvider router={router} />
      </LiveProvider>
    </QueryClientProvider>,
  );
  return { ...result, router, client, store };
}

type Handler = (url: URL, init: RequestInit | undefined) => unknown;

export interface FetchCall {
  url: URL;
  init: RequestInit | undefined;
}

/** Replace fetch: each handler answers the paths starting with its key; `{status, body}` sets an error. */
export function mockFetch(handlers: Record<string, Handler>) {
  const calls: FetchCall[] = [];
  const fn = async (input: RequestInfo | URL, given?: RequestInit) => {
    // the typed client sends Request objects; plain fetch calls send a URL and an init
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input), 'http://localhost');
    const init: RequestInit | undefined = request
      ? { method: request.method, headers: request.headers, body: request.body ? await request.text() : undefined }
      : given;
    calls.push({ url, init });
    const key = Object.keys(handlers)
      .filter((k) => url.pathname.startsWith(k))
      .sort((a, b) => b.length - a.length)[0];
    if (!key) return new Response(JSON.stringify({ detail: 'Not Found' }), { status: 404 });
    const result = handlers[key]?.(url, init);
    if (result && typeof result === 'object' && 'status' in result && 'body' in result) {
      const { status, body } = result as { status: number; body: unknown };
      return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    }
    return new Response(JSON.stringify(result), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  globalThis.fetch = fn as typeof fetch;
  return calls;
}
