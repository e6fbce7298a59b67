// Analytics asks the history API for the chosen type or sensor, metric and range.
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { AnalyticsView } from '@/features/analytics/components/analytics-view';
import { autoStep, resolveRange } from '@/features/analytics/components/range-picker';
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
    await waitFor(() => {
      const last = calls[calls.length - 1]?.url;
      expect(last?.searchParams.get('metric')).toBe('max');
      expect(last?.searchParams.get('step')).toBe('900');
    });
    const last = calls[calls.length - 1]?.url;
    expect(Number(last?.searchParams.get('to')) - Number(last?.searchParams.get('from'))).toBe(86_400);
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
    expect(calls[0]?.url.searchParams.get('sensor')).toBe('m00001-power-0');
    expect(calls[0]?.url.searchParams.get('type')).toBeNull();
  });
});
