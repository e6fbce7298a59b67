// With OIDC read authentication on, every REST call and the live socket carry the token from the settings.
import { Server, WebSocket as MockWebSocket } from 'mock-socket';
import { renderHook, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { useWebSocket } from '@/hooks/use-websocket';
import { api, withToken } from '@/lib/api-client';
import { SETTINGS_KEY, resetSettingsCache, saveSettings } from '@/lib/settings-store';

const realWebSocket = globalThis.WebSocket;
const realFetch = globalThis.fetch;

afterEach(() => {
  localStorage.removeItem(SETTINGS_KEY);
  resetSettingsCache();
  globalThis.WebSocket = realWebSocket;
  globalThis.fetch = realFetch;
});

describe('the stored token', () => {
  it('goes on reads as a bearer header, and an explicit header wins', async () => {
    saveSettings({ token: 'jwt-abc' });
    const fetched = vi.fn(async (_request: Request) => new Response('{"items":[]}', { status: 200 }));
    globalThis.fetch = fetched as unknown as typeof fetch;
    await api.GET('/api/v1/sensors');
    expect(fetched.mock.calls[0]?.[0].headers.get('Authorization')).toBe('Bearer jwt-abc');
    const own = withToken(new Request('http://x/', { headers: { Authorization: 'Bearer other' } }));
    expect(own.headers.get('Authorization')).toBe('Bearer other');
  });

  it('is not invented when none is stored', () => {
    expect(withToken(new Request('http://x/')).headers.has('Authorization')).toBe(false);
  });

  it('is offered to /ws as the subprotocol after "bearer"', async () => {
    const url = 'ws://gridwatch.test/ws';
    const server = new Server(url);
    const offered: unknown[] = [];
    class Recording extends MockWebSocket {
      constructor(target: string, protocols?: string | string[]) {
        super(target, protocols);
        offered.push(protocols);
      }
    }
    globalThis.WebSocket = Recording as unknown as typeof WebSocket;
    try {
      saveSettings({ token: 'jwt-abc' });
      const first = renderHook(() => useWebSocket(url, { onMessage: () => undefined }));
      await waitFor(() => expect(first.result.current.state).toBe('open'));
      first.unmount();
      saveSettings({ token: '' });
      const second = renderHook(() => useWebSocket(url, { onMessage: () => undefined }));
      await waitFor(() => expect(second.result.current.state).toBe('open'));
      second.unmount();
      expect(offered).toEqual([['bearer', 'jwt-abc'], undefined]);
    } finally {
      server.stop();
    }
  });
});
