// The dashboard shows the live stats and follows every update from the socket.
import { act, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { DashboardView } from '@/features/dashboard/components/dashboard-view';
import { LiveStore } from '@/lib/live-store';
import { actual, energyCost, forecast, producer, stats } from '@/testing/factories';
import { mockFetch, renderView } from '@/testing/render';

describe('DashboardView', () => {
  it('renders power and status counts, and follows live updates', async () => {
    mockFetch({ '/api/v1/dashboard/stats': () => stats() });
    const store = new LiveStore();
    renderView(<DashboardView />, { store });
    await waitFor(() => expect(screen.getByTestId('stat-power')).toHaveTextContent('1,234.5 kW'));
    expect(screen.getByTestId('status-count-critical')).toHaveTextContent('5');
    // No history (404 here): no cost is invented from a price; the energy is the total since the start.
    await waitFor(() => expect(screen.getByTestId('stat-cost')).toHaveTextContent('—'));
    expect(screen.getByText('needs the site history (PostgreSQL)')).toBeInTheDocument();
    expect(screen.getByTestId('stat-energy')).toHaveTextContent('100.0 kWh');

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

  it("shows today's energy and the cost the server priced with the site's tariff and currency", async () => {
    window.localStorage.setItem('gridwatch.settings', JSON.stringify({ tariff: 9, currency: 'JPY' })); // old keys
    const calls = mockFetch({
      '/api/v1/dashboard/stats': () => stats(),
      '/api/v1/analytics/energy': () => energyCost({ total_energy_kwh: 42, total_cost: 7.56, currency: 'GBP' }),
    });
    renderView(<DashboardView />);
    await waitFor(() => expect(screen.getByTestId('stat-energy')).toHaveTextContent('42.0 kWh'));
    expect(screen.getByText('Energy today')).toBeInTheDocument();
    expect(screen.getByTestId('stat-cost')).toHaveTextContent('£7.56');
    expect(screen.getByText("at the site's tariff, GBP")).toBeInTheDocument();
    const energy = calls.find((c) => c.url.pathname === '/api/v1/analytics/energy');
    // no from: the server starts "today" at the site's local midnight, whatever the browser's zone
    expect(energy?.url.searchParams.get('from')).toBeNull();
    expect(energy?.url.searchParams.get('per')).toBe('day');
    expect(calls.some((c) => c.url.pathname === '/api/v1/optimization/tariff')).toBe(false);
  });

  it('draws the site forecast with its band beside the measured load, with model and backtest error', async () => {
    const calls = mockFetch({
      '/api/v1/dashboard/stats': () => stats(),
      '/api/v1/forecast/actual': () => actual([0, 900, 1800], [10, 12, 30]),
      '/api/v1/forecast': () => forecast({ start: 1800, p50: [11, 13, 15, 17] }),
    });
    renderView(<DashboardView />);
    const model = await screen.findByTestId('forecast-model');
    expect(model).toHaveTextContent('gbm_quantile forecaster-v7'); // the version as the API names it, no extra 'v'
    expect(model).toHaveTextContent('0.612');
    expect(model).toHaveTextContent('seasonal naive 1.000');
    // 1800 is both measured (30 kW) and forecast (P10 9, P50 11, P90 13): outside the band, error 19 kW
    expect(screen.getByTestId('forecast-score')).toHaveTextContent('1 steps measured: MAE 19.0 kW, 0 % inside P10–P90');
    const chart = screen.getByRole('img', { name: /Forecast vs actual load of the site: 4 forecast steps/ });
    expect(chart).toHaveAttribute('data-points', '6'); // 0, 900 measured only; 1800 both; 2700-4500 forecast
    const asked = calls.find((c) => c.url.pathname === '/api/v1/forecast/actual');
    expect(asked?.url.searchParams.get('step')).toBe('900');
    expect(Number(asked?.url.searchParams.get('from'))).toBe(1000 - 24 * 3600);
  });

  it('says when there is no forecast yet', async () => {
    mockFetch({
      '/api/v1/dashboard/stats': () => stats(),
      '/api/v1/forecast': () => ({ status: 404, body: { detail: "no forecast for site 'site' yet" } }),
    });
    renderView(<DashboardView />);
    expect(await screen.findByTestId('forecast-none')).toHaveTextContent('No forecast of the site yet');
  });
});
