// Shows whether the live feed is up: live, reconnecting (with the retry countdown) or producer disconnected.
import { useEffect, useState } from 'react';

import { type ConnectionState, useConnectionState, useLive, useSocketStatus } from '@/hooks/use-live';

const TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  'producer-disconnected': 'Producer disconnected',
};

export function ConnectionBadge() {
  const state = useConnectionState();
  const socket = useSocketStatus();
  const error = useLive((s) => s.error);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (state !== 'reconnecting') return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [state]);
  const retryIn = socket.nextRetryAt ? Math.max(0, Math.ceil((socket.nextRetryAt - now) / 1000)) : null;
  const detail =
    state === 'reconnecting'
      ? `attempt ${socket.attempt}${retryIn !== null ? `, next in ${retryIn} s` : ''}`
      : state === 'live' && error
        ? error
        : null;
  return (
    <div className={`connection connection--${state}`} role="status" aria-live="polite" data-state={state}>
      <span className="connection__dot" aria-hidden="true" />
      <span className="connection__text">{TEXT[state]}</span>
      {detail ? <span className="connection__detail">{detail}</span> : null}
    </div>
  );
}
