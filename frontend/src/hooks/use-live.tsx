// The live site feed: one WebSocket for the whole app, its events in a LiveStore, and the connection state.
import { createContext, type ReactNode, useContext, useMemo, useSyncExternalStore } from 'react';

import { type SocketStatus, socketUrl, useWebSocket } from '@/hooks/use-websocket';
import { type LiveState, LiveStore, parseLiveEvent } from '@/lib/live-store';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'producer-disconnected';

interface LiveContextValue {
  store: LiveStore;
  socket: SocketStatus;
}

const LiveContext = createContext<LiveContextValue | null>(null);

export interface LiveProviderProps {
  children: ReactNode;
  /** WebSocket path or URL; defaults to the API's `/api/v1/ws` on this origin. */
  url?: string;
  /** Tests inject a store to drive views without a socket. */
  store?: LiveStore;
  enabled?: boolean;
}

export function LiveProvider({ children, url = '/api/v1/ws', store, enabled = true }: LiveProviderProps) {
  const liveStore = useMemo(() => store ?? new LiveStore(), [store]);
  const socket = useWebSocket(socketUrl(url), {
    enabled,
    staleAfterMs: 15_000,
    onMessage: (data) => {
      const event = parseLiveEvent(data);
      if (event) liveStore.dispatch(event);
    },
  });
  const value = useMemo(() => ({ store: liveStore, socket }), [liveStore, socket]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

function useLiveContext(): LiveContextValue {
  const context = useContext(LiveContext);
  if (!context) throw new Error('useLive* hooks need a <LiveProvider>');
  return context;
}

/** Subscribe to a slice of the live state; the component re-renders when that slice changes. */
export function useLive<T>(select: (state: LiveState) => T): T {
  const { store } = useLiveContext();
  return useSyncExternalStore(
    store.subscribe,
    () => select(store.getState()),
    () => select(store.getState()),
  );
}

export function useSocketStatus(): SocketStatus {
  return useLiveContext().socket;
}

export function connectionState(socket: SocketStatus, producerConnected: boolean | null | undefined): ConnectionState {
  if (socket.state === 'connecting') return 'connecting';
  if (socket.state !== 'open') return 'reconnecting';
  if (producerConnected === false) return 'producer-disconnected';
  return 'live';
}

export function useConnectionState(): ConnectionState {
  const socket = useSocketStatus();
  const producerConnected = useLive((state) => state.producer?.connected);
  return connectionState(socket, producerConnected);
}
