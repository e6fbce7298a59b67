// Analytics asks the history API for the chosen type or sensor, metric and range.
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { AnalyticsView } from '@/features/analytics/components/analytics-view';
import { autoStep, resolveRange } from '@/features/analytics/components/range-picker';
import { actual, forecast } from '@/testing/factories';
import { mockFetch, renderView } from '@/testing/render';

describe('range helpers', () => {
  it('picks readable bucket widths', () => {
    expect(autoStep(900)).toBe(60);
    expect(autoStep(3600)).toBe(60);
    expect(autoStep(86_400)).toBe(900);
    expect(autoStep(7 * 86_400)).toBe(7200);
  });
  it('resolves presets relative to now and honours a valid custom range', () => {
    expect(resolveRange({ range: '6h', from: null, to: null }, 100_000)).toEqual({
      from: 100_000 - 21_600,
      to: 100_000,
    });
    expect(resolveRange({ range: 'custom', from: 10, to: 20 }, 100)).toEqual({ from: 10, to: 20 });
    expect(resolveRange({ range: 'custom', from: 20, to: 10 }, 7200)).toEqual({ from: 3600, to: 7200 });
  });
  it("resolves today from the site's local midnight, not the browser's", () => {
    const now = Date.parse('2026-07-01T22:30:00Z') / 1000; // 00:30 on 2 July in Berlin, 18:30 on 1 July in New York
    expect(resolveRange({ range: 'today', from: null, to: null }, now, 'Europe/Berlin')).toEqual({
      from: Date.parse('2026-07-01T22:00:00Z') / 1000,
      to: now,
    });
    expect(resolveRange({ range: 'today', from: null, to: null }, now, 'America/New_York').from).toBe(
      Date.parse('2026-07-01T04:00:00Z') / 1000,
    );
  });
});

describe('AnalyticsView', () => {
  it('charts the history of a type and switches metric and range', async () => {
    const calls = mockFetch({
      '/api/v1/analytics/history': (url) => ({
        sensor: null,
        type: url.searchParams.get('type'),
        metric: url.searchParams.get('metric'),
        from: 0,
        to: 0,
        step: 60,
        points: [
          { ts: 1000, value: 1 },
          { ts: 1060, value: 3 },
        ],
      }),
    });
    renderView(<AnalyticsView />, { path: '/analytics', route: '/analytics?type=temperature' });
    expect(
      await screen.findByRole('img', { name: /Mean value of all temperature sensors, 2 buckets/ }),
    ).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText('Metric'), 'max');
    await userEvent.click(screen.getByLabelText('24 hours'));
    const lastHistory = () => calls.filter((c) => c.url.pathname === '/api/v1/analytics/history').pop()?.url;
    await waitFor(() => {
      const last = lastHistory();
      expect(last?.searchParams.get('metric')).toBe('max');
      expect(last?.searchParams.get('step')).toBe('900');
    });
    const last = lastHistory();
    expect(Number(last?.searchParams.get('to')) - Number(last?.searchParams.get('from'))).toBe(86_400);
  });

  it('shows the unit the server names for the values', async () => {
    mockFetch({
      '/api/v1/analytics/history': () => ({
        sensor: null, type: 'temperature', metric: 'max', from: 0, to: 0, step: 60, unit: '°C',
        points: [{ ts: 1000, value: 71.25 }, { ts: 1060, value: 80.5 }],
      }), // prettier-ignore
    });
    renderView(<AnalyticsView />, { path: '/analytics', route: '/analytics?type=temperature&metric=max' });
    expect(
      await screen.findByRole('img', { name: /Maximum \(°C\) of all temperature sensors, 2 buckets/ }),
    ).toBeInTheDocument();
    expect(screen.getByTestId('history-max')).toHaveTextContent('80.50 °C');
    expect(screen.getByTestId('history-min')).toHaveTextContent('71.25 °C');
  });

  it('queries one sensor when deep-linked with ?sensor=', async () => {
    const calls = mockFetch({
      '/api/v1/analytics/history': () => ({
        sensor: 'm1',
        type: null,
        metric: 'mean',
        from: 0,
        to: 0,
        step: 60,
        points: [],
      }),
    });
    renderView(<AnalyticsView />, { path: '/analytics', route: '/analytics?sensor=m00001-power-0' });
    expect(await screen.findByText('No data in this range.')).toBeInTheDocument();
    const history = calls.find((c) => c.url.pathname === '/api/v1/analytics/history');
    expect(history?.url.searchParams.get('sensor')).toBe('m00001-power-0');
    expect(history?.url.searchParams.get('type')).toBeNull();
  });

  it("asks for the site's local days over long ranges and shows the forecast of the site and of the machine", async () => {
    const calls = mockFetch({
      '/api/v1/analytics/history': () => ({
        sensor: 'm7-power', type: null, metric: 'energy_kwh', from: 0, to: 0, step: 86_400, per: 'day',
        timezone: 'Europe/Berlin', points: [{ ts: 1000, value: 5 }],
      }), // prettier-ignore
      '/api/v1/forecast/actual': () => actual([1000], [10]),
      '/api/v1/forecast': () => forecast({ start: 1900, p50: [11, 12] }),
    });
    const from = Date.parse('2026-01-01T00:00:00Z') / 1000;
    const to = from + 200 * 86_400; // past 120 buckets of 12 h: one per day
    renderView(<AnalyticsView />, {
      path: '/analytics',
      route: `/analytics?sensor=m7-power&metric=energy_kwh&range=custom&from=${from}&to=${to}`,
    });
    expect(await screen.findByText(/one bucket per local day/)).toBeInTheDocument();
    const history = calls.find((c) => c.url.pathname === '/api/v1/analytics/history');
    expect(history?.url.searchParams.get('per')).toBe('day');
    expect(history?.url.searchParams.get('step')).toBeNull();
    // the export carries the same sensor and range (one-minute rows; the file is built on the server)
    const csv = new URL(screen.getByRole('link', { name: 'Export CSV' }).getAttribute('href') ?? '', 'http://x');
    expect(csv.pathname).toBe('/api/v1/export/history.csv');
    expect(csv.searchParams.get('sensor')).toBe('m7-power');
    expect(csv.searchParams.get('type')).toBeNull();
    expect([csv.searchParams.get('from'), csv.searchParams.get('to')]).toEqual([
      history?.url.searchParams.get('from'),
      history?.url.searchParams.get('to'),
    ]);
    expect(screen.getByRole('link', { name: 'Excel' })).toHaveAttribute(
      'href',
      expect.stringContaining('format=excel'),
    );
    expect(await screen.findByRole('heading', { name: 'Site load: forecast vs actual' })).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Machine m7: forecast vs actual' })).toBeInTheDocument();
    const machine = calls.find((c) => c.url.pathname === '/api/v1/forecast' && c.url.searchParams.get('id') === 'm7');
    expect(machine?.url.searchParams.get('scope')).toBe('machine');
    await waitFor(() => expect(screen.getAllByTestId('forecast-model')).toHaveLength(2));
  });
});
