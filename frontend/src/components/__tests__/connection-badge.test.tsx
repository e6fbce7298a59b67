// The connection state shown in the header.
import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { connectionState } from '@/hooks/use-live';
import type { SocketStatus } from '@/hooks/use-websocket';
import { ConnectionBadge } from '@/components/connection-badge';
import { LiveProvider } from '@/hooks/use-live';
import { LiveStore } from '@/lib/live-store';
import { producer, stats } from '@/testing/factories';

const open: SocketStatus = { state: 'open', attempt: 0, nextRetryAt: null, lastMessageAt: 1 };

describe('connectionState', () => {
  it('is live when the socket is open and the producer is connected', () => {
    expect(connectionState(open, true)).toBe('live');
    expect(connectionState(open, undefined)).toBe('live');
  });
  it('is reconnecting whenever the socket is not open', () => {
    expect(connectionState({ ...open, state: 'reconnecting', attempt: 2 }, true)).toBe('reconnecting');
    expect(connectionState({ ...open, state: 'closed' }, true)).toBe('reconnecting');
  });
  it('reports a disconnected producer on an open socket', () => {
    expect(connectionState(open, false)).toBe('producer-disconnected');
  });
});

describe('ConnectionBadge', () => {
  it('announces the state politely', () => {
    const store = new LiveStore();
    store.dispatch({ type: 'snapshot', ts: 1, stats: stats(), producer: producer(false), sensors: [] });
    render(
      <LiveProvider store={store} enabled={false}>
        <ConnectionBadge />
      </LiveProvider>,
    );
    // With the socket disabled the hook reports "closed", which the badge shows as reconnecting.
    const badge = screen.getByRole('status');
    expect(badge).toHaveAttribute('aria-live', 'polite');
    expect(badge).toHaveTextContent('Reconnecting…');
  });
});
