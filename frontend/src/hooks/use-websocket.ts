// One WebSocket with automatic reconnect (exponential backoff + jitter) and a stale-connection watchdog.
import { useEffect, useRef, useState } from 'react';

import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from '@/lib/backoff';
import { getSettings } from '@/lib/settings-store';

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SocketStatus {
  state: SocketState;
  /** Failed attempts since the last successful open. */
  attempt: number;
  /** When the next reconnect attempt runs (ms since epoch), while reconnecting. */
  nextRetryAt: number | null;
  /** When the last message arrived (ms since epoch). */
  lastMessageAt: number | null;
}

export interface UseWebSocketOptions {
  /** Called with every text message. */
  onMessage: (data: string) => void;
  /** Called after every successful (re)connect. */
  onOpen?: () => void;
  backoff?: BackoffOptions;
  /** Reconnect when nothing arrives for this long (the API pushes every few seconds); 0 disables. */
  staleAfterMs?: number;
  enabled?: boolean;
}

const INITIAL: SocketStatus = { state: 'connecting', attempt: 0, nextRetryAt: null, lastMessageAt: null };

/** Resolve a path such as `/ws` against the page's origin, switching http(s) to ws(s). */
export function socketUrl(path: string, location: Location = window.location): string {
  if (/^wss?:\/\//.test(path)) return path;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path.startsWith('/') ? path : `/${path}`}`;
}

export function useWebSocket(url: string, options: UseWebSocketOptions): SocketStatus {
  const { enabled = true, staleAfterMs = 0 } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const [status, setStatus] = useState<SocketStatus>(INITIAL);
  const onMessage = useRef(options.onMessage);
  const onOpen = useRef(options.onOpen);
  const backoffRef = useRef(backoff);
  useEffect(() => {
    onMessage.current = options.onMessage;
    onOpen.current = options.onOpen;
    backoffRef.current = backoff;
  });

  useEffect(() => {
    if (!enabled) {
      setStatus({ ...INITIAL, state: 'closed' });
      return;
    }
    let socket: WebSocket | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let staleTimer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let disposed = false;

    const detach = (ws: WebSocket) => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    };

    const scheduleReconnect = () => {
      if (disposed) return;
      clearTimeout(staleTimer);
      const delay = backoffDelay(attempt, backoffRef.current);
      attempt += 1;
      setStatus((prev) => ({ ...prev, state: 'reconnecting', attempt, nextRetryAt: Date.now() + delay }));
      retryTimer = setTimeout(connect, delay);
    };

    const armWatchdog = () => {
      clearTimeout(staleTimer);
      if (staleAfterMs <= 0) return;
      staleTimer = setTimeout(() => {
        // No message for too long: the connection is half-open; drop it and start over.
        if (socket) {
          detach(socket);
          socket.close();
          socket = null;
        }
        scheduleReconnect();
      }, staleAfterMs);
    };

    function connect() {
      if (disposed) return;
      let ws: WebSocket;
      try {
        // Browsers cannot set headers on a WebSocket: the API takes the token as the subprotocol after "bearer"
        const { token } = getSettings();
        ws = token ? new WebSocket(url, ['bearer', token]) : new WebSocket(url);
      } catch {
        scheduleReconnect();
        return;
      }
      socket = ws;
      ws.onopen = () => {
        attempt = 0;
        setStatus((prev) => ({ ...prev, state: 'open', attempt: 0, nextRetryAt: null }));
        armWatchdog();
        onOpen.current?.();
      };
      ws.onmessage = (event: MessageEvent) => {
        armWatchdog();
        setStatus((prev) => ({ ...prev, lastMessageAt: Date.now() }));
        if (typeof event.data === 'string') onMessage.current(event.data);
      };
      ws.onclose = () => {
        detach(ws);
        socket = null;
        scheduleReconnect();
      };
      ws.onerror = () => {
        // a close event follows; reconnecting happens there
      };
    }

    setStatus(INITIAL);
    connect();
    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      clearTimeout(staleTimer);
      if (socket) {
        detach(socket);
        socket.close();
      }
    };
  }, [url, enabled, staleAfterMs]);

  return status;
}
