// The alerts view: lists by state, acknowledges with the bearer token, explains refusals.
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { AlertsView } from '@/features/alerts/components/alerts-view';
import { saveSettings } from '@/lib/settings-store';
import { mockFetch, renderView } from '@/testing/render';
import type { Alert } from '@/lib/api/types';

function alert(id: number, overrides: Partial<Alert> = {}): Alert {
  return {
    id,
    fingerprint: `fp${id}`,
    rule: 'status-critical',
    sensor_id: `m0000${id}-power-0`,
    machine: `m0000${id}`,
    severity: 'critical',
    state: 'active',
    message: `sensor ${id} is critical`,
    value: 12.5,
    count: 3,
    first_seen: 1_700_000_000,
    last_seen: 1_700_000_100,
    acknowledged_at: null,
    acknowledged_by: null,
    cleared_at: null,
    ...overrides,
  };
}

describe('AlertsView', () => {
  it('shows active alerts and acknowledges one with the bearer token', async () => {
    saveSettings({ token: 'secret-token' });
    let acked = false;
    const calls = mockFetch({
      '/api/v1/alerts/1/ack': () => {
        acked = true;
        return alert(1, { state: 'acknowledged' });
      },
      '/api/v1/alerts': (url) => {
        const state = url.searchParams.get('state');
        const items = state === 'active' && !acked ? [alert(1), alert(2)] : state === 'active' ? [alert(2)] : [];
        return { total: items.length, items };
      },
    });
    renderView(<AlertsView />, { path: '/alerts', route: '/alerts' });
    expect(await screen.findAllByTestId('alert-row')).toHaveLength(2);
    await userEvent.click(screen.getByRole('button', { name: 'Acknowledge alert on m00001-power-0' }));
    expect(await screen.findByText('Alert on m00001-power-0 acknowledged.')).toBeInTheDocument();
    const ack = calls.find((c) => c.url.pathname === '/api/v1/alerts/1/ack');
    expect(ack?.init?.method).toBe('POST');
    expect(new Headers(ack?.init?.headers).get('Authorization')).toBe('Bearer secret-token');
    await waitFor(() => expect(screen.getAllByTestId('alert-row')).toHaveLength(1));
  });

  it('explains a refused token', async () => {
    saveSettings({ token: 'wrong' });
    mockFetch({
      '/api/v1/alerts/1/clear': () => ({ status: 403, body: { detail: 'the bearer token is not valid' } }),
      '/api/v1/alerts': () => ({ total: 1, items: [alert(1)] }),
    });
    renderView(<AlertsView />, { path: '/alerts', route: '/alerts' });
    await userEvent.click(await screen.findByRole('button', { name: 'Clear alert on m00001-power-0' }));
    expect(await screen.findByText(/the API refused the token \(the bearer token is not valid\)/)).toBeInTheDocument();
  });

  it('asks for a token when none is set, and lists acknowledged alerts by their own tab', async () => {
    const calls = mockFetch({
      '/api/v1/alerts': (url) => ({
        total: 1,
        items: [alert(3, { state: url.searchParams.get('state') as Alert['state'], acknowledged_by: 'ops' })],
      }),
    });
    renderView(<AlertsView />, { path: '/alerts', route: '/alerts?state=acknowledged' });
    expect(await screen.findByRole('button', { name: 'Set the token in Settings' })).toBeInTheDocument();
    expect(await screen.findByText('by ops')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Acknowledged' })).toHaveAttribute('aria-current', 'page');
    expect(calls[0]?.url.searchParams.get('state')).toBe('acknowledged');
    expect(screen.getByRole('link', { name: 'Export CSV' })).toHaveAttribute(
      'href',
      '/api/v1/export/alerts.csv?state=acknowledged&format=csv',
    );
    expect(screen.queryByRole('button', { name: /Acknowledge alert/ })).not.toBeInTheDocument();
  });
});
