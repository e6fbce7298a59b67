// The dashboard shows the live stats and follows every update from the socket.
import { act, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { DashboardView } from '@/features/dashboard/components/dashboard-view';
import { LiveStore } from '@/lib/live-store';
import { saveSettings } from '@/lib/settings-store';
import { producer, stats } from '@/testing/factories';
import { mockFetch, renderView } from '@/testing/render';

describe('DashboardView', () => {
  it('renders power, energy, cost and status counts, and follows live updates', async () => {
    saveSettings({ tariff: 0.2, currency: 'EUR' });
    mockFetch({
      '/api/v1/dashboard/stats': () => stats(),
      '/api/v1/optimization/tariff': () => ({ currency: 'USD', timezone: 'UTC', periods: [] }),
    });
    const store = new LiveStore();
    renderView(<DashboardView />, { store });
    await waitFor(() => expect(screen.getByTestId('stat-power')).toHaveTextContent('1,234.5 kW'));
    // No history yet (404 here): the cost prices the energy metered since the start.
    expect(screen.getByTestId('stat-cost')).toHaveTextContent('€20.00');
    expect(screen.getByTestId('status-count-critical')).toHaveTextContent('5');

    act(() =>
      store.dispatch({
        type: 'update',
        ts: 1000,
        stats: stats({ total_power_kw: 2000, status_counts: { normal: 270, warning: 20, critical: 10 } }),
        producer: producer(),
        readings: 300,
        anomalies: 2,
        changed: [],
      }),
    );
    expect(screen.getByTestId('stat-power')).toHaveTextContent('2,000.0 kW');
    expect(screen.getByTestId('status-count-critical')).toHaveTextContent('10');
    expect(screen.getByRole('img', { name: /Total power over the last 1 updates, now 2000.0 kW/ })).toHaveAttribute(
      'data-points',
      '1',
    );
  });

  it('prices the energy metered today when the history has it', async () => {
    saveSettings({ tariff: 0.5, currency: 'EUR' });
    const calls = mockFetch({
      '/api/v1/dashboard/stats': () => stats(),
      '/api/v1/analytics/history': () => ({
        sensor: null,
        type: null,
        metric: 'energy_kwh',
        from: 0,
        to: 1,
        step: 3600,
        points: [
          { ts: 0, value: 30 },
          { ts: 3600, value: 12 },
        ],
      }),
    });
    renderView(<DashboardView />);
    await waitFor(() => expect(screen.getByTestId('stat-energy')).toHaveTextContent('42.0 kWh'));
    expect(screen.getByText('Energy today')).toBeInTheDocument();
    expect(screen.getByTestId('stat-cost')).toHaveTextContent('€21.00');
    const history = calls.find((c) => c.url.pathname === '/api/v1/analytics/history');
    expect(history?.url.searchParams.get('metric')).toBe('energy_kwh');
    expect(history?.url.searchParams.get('sensor')).toBeNull();
  });

  it('takes the currency from the tariff when none is set', async () => {
    mockFetch({
      '/api/v1/dashboard/stats': () => stats(),
      '/api/v1/optimization/tariff': () => ({ currency: 'USD', timezone: 'UTC', periods: [] }),
    });
    renderView(<DashboardView />);
    expect(await screen.findByText(/USD\/kWh/)).toBeInTheDocument();
  });
});
