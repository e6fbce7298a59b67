// The live socket hook against a mock WebSocket server: connect, message, reconnect with backoff.
import { act, renderHook, waitFor } from '@testing-library/react';
import { Server, WebSocket as MockWebSocket } from 'mock-socket';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { socketUrl, useWebSocket } from '@/hooks/use-websocket';
import type { BackoffOptions } from '@/lib/backoff';

const URL = 'ws://gridwatch.test/ws';
const FAST: BackoffOptions = { initialMs: 20, maxMs: 200, factor: 2, jitter: 0 };

let server: Server;
const realWebSocket = globalThis.WebSocket;

beforeEach(() => {
  globalThis.WebSocket = MockWebSocket as unknown as typeof WebSocket;
  server = new Server(URL);
});

afterEach(() => {
  server.stop();
  globalThis.WebSocket = realWebSocket;
});

describe('useWebSocket', () => {
  it('connects and reports the open state', async () => {
    const connected = vi.fn();
    server.on('connection', connected);
    const { result } = renderHook(() => useWebSocket(URL, { onMessage: () => undefined, backoff: FAST }));
    expect(result.current.state).toBe('connecting');
    await waitFor(() => expect(result.current.state).toBe('open'));
    expect(connected).toHaveBeenCalledTimes(1);
  });

  it('hands every message to onMessage', async () => {
    const onMessage = vi.fn();
    server.on('connection', (socket) => {
      socket.send(JSON.stringify({ type: 'snapshot' }));
      socket.send(JSON.stringify({ type: 'update' }));
    });
    const { result } = renderHook(() => useWebSocket(URL, { onMessage, backoff: FAST }));
    await waitFor(() => expect(onMessage).toHaveBeenCalledTimes(2));
    expect(onMessage.mock.calls.map((c) => JSON.parse(c[0] as string).type)).toEqual(['snapshot', 'update']);
    expect(result.current.lastMessageAt).not.toBeNull();
  });

  it('reconnects by itself after the server drops the connection', async () => {
    const sockets: { close: () => void }[] = [];
    server.on('connection', (socket) => sockets.push(socket));
    const onOpen = vi.fn();
    const slow = { ...FAST, initialMs: 300 };
    const { result } = renderHook(() => useWebSocket(URL, { onMessage: () => undefined, onOpen, backoff: slow }));
    await waitFor(() => expect(result.current.state).toBe('open'));

    act(() => sockets[0]?.close());
    await waitFor(() => expect(result.current.state).toBe('reconnecting'));
    expect(result.current.attempt).toBe(1);

    await waitFor(() => expect(result.current.state).toBe('open'));
    expect(sockets).toHaveLength(2);
    expect(onOpen).toHaveBeenCalledTimes(2);
    expect(result.current.attempt).toBe(0);
  });

  it('backs off exponentially while the server is away, then recovers', async () => {
    const backoff = { ...FAST, initialMs: 50, maxMs: 1000 };
    const { result } = renderHook(() => useWebSocket(URL, { onMessage: () => undefined, backoff }));
    await waitFor(() => expect(result.current.state).toBe('open'));

    const delays: number[] = [];
    let lastAttempt = 0;
    // The API goes away: every connection closes and new ones are refused.
    act(() => server.close());
    await waitFor(
      () => {
        const { attempt, nextRetryAt } = result.current;
        if (attempt > lastAttempt && nextRetryAt) {
          delays.push(nextRetryAt - Date.now());
          lastAttempt = attempt;
        }
        expect(attempt).toBeGreaterThanOrEqual(3);
      },
      { timeout: 3000, interval: 5 },
    );
    expect(result.current.state).toBe('reconnecting');
    // Each wait is twice the previous one (50, 100, 200 ms); polling adds a few ms of slack.
    expect(delays.length).toBeGreaterThanOrEqual(2);
    expect(delays[delays.length - 1]).toBeGreaterThan(delays[0] ?? 0);

    server = new Server(URL);
    await waitFor(() => expect(result.current.state).toBe('open'), { timeout: 3000 });
    expect(result.current.attempt).toBe(0);
  });

  it('drops a silent connection after staleAfterMs and connects again', async () => {
    let connections = 0;
    server.on('connection', () => {
      connections += 1;
    });
    const { result } = renderHook(() =>
      useWebSocket(URL, { onMessage: () => undefined, backoff: FAST, staleAfterMs: 60 }),
    );
    await waitFor(() => expect(connections).toBeGreaterThanOrEqual(2), { timeout: 3000 });
    await waitFor(() => expect(result.current.state).toBe('open'));
  });

  it('closes the socket on unmount and does not reconnect', async () => {
    let connections = 0;
    server.on('connection', () => {
      connections += 1;
    });
    const { result, unmount } = renderHook(() => useWebSocket(URL, { onMessage: () => undefined, backoff: FAST }));
    await waitFor(() => expect(result.current.state).toBe('open'));
    unmount();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections).toBe(1);
  });
});

describe('socketUrl', () => {
  it('maps http and https pages to ws and wss on the same host', () => {
    expect(socketUrl('/ws', { protocol: 'http:', host: 'example.test:8000' } as Location)).toBe(
      'ws://example.test:8000/ws',
    );
    expect(socketUrl('/ws', { protocol: 'https:', host: 'example.test' } as Location)).toBe('wss://example.test/ws');
    expect(socketUrl('ws://other/ws')).toBe('ws://other/ws');
  });
});
