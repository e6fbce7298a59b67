// The sensors view: 10,000 sensors virtualized, filters and search in the URL, sorting, the detail panel.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SensorsView } from '@/features/sensors/components/sensors-view';
import { sensor } from '@/testing/factories';
import { mockFetch, renderView } from '@/testing/render';
import type { SensorState } from '@/lib/api/types';

function serveSensors(all: SensorState[]) {
  return mockFetch({
    '/api/v1/sensors/': (url) =>
      all.find((s) => url.pathname.endsWith(`/${encodeURIComponent(s.id)}`)) ?? {
        status: 404,
        body: { detail: 'nope' },
      },
    '/api/v1/sensors': (url) => {
      const status = url.searchParams.get('status');
      const type = url.searchParams.get('type');
      const q = url.searchParams.get('q');
      const source = url.searchParams.get('source');
      const items = all.filter(
        (s) =>
          (!status || s.status === status) &&
          (!type || s.type === type) &&
          (!q || s.id.includes(q)) &&
          (!source || s.source === source),
      );
      return { total: items.length, limit: 10_000, offset: 0, items };
    },
    '/api/v1/analytics/history': () => ({
      sensor: 'x',
      type: null,
      metric: 'mean',
      from: 0,
      to: 1,
      step: 60,
      points: [],
    }),
  });
}

const ALL = Array.from({ length: 10_000 }, (_, i) => sensor(i));

// jsdom has no layout: give the table's scroll container a real size so the virtualizer has a window.
const sizes = {
  clientHeight: Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight'),
  clientWidth: Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientWidth'),
};
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return this.classList.contains('table-scroll') ? 600 : 0;
    },
  });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
    configurable: true,
    get(this: HTMLElement) {
      return this.classList.contains('table-scroll') ? 1000 : 0;
    },
  });
});
afterAll(() => {
  for (const [name, descriptor] of Object.entries(sizes)) {
    if (descriptor) Object.defineProperty(HTMLElement.prototype, name, descriptor);
    else Reflect.deleteProperty(HTMLElement.prototype, name);
  }
});

describe('SensorsView', () => {
  it('renders 10,000 sensors with only a window of rows in the DOM', async () => {
    serveSensors(ALL);
    renderView(<SensorsView />, { path: '/sensors', route: '/sensors' });
    await waitFor(() => expect(screen.getByTestId('sensor-count')).toHaveTextContent('10,000 of 10,000 sensors'));
    const rows = screen.getAllByTestId('sensor-row');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(100);
    expect(screen.getByRole('table')).toHaveAttribute('aria-rowcount', '10001');
  });

  it('filters by status through the API and keeps the filter in the URL', async () => {
    const calls = serveSensors(ALL);
    const { router } = renderView(<SensorsView />, { path: '/sensors', route: '/sensors' });
    await screen.findAllByTestId('sensor-row');
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'critical');
    await waitFor(() => expect(screen.getByTestId('sensor-count')).toHaveTextContent('200 of 200 sensors'));
    for (const row of screen.getAllByTestId('sensor-row')) expect(row).toHaveAttribute('data-status', 'critical');
    expect(router.state.location.search).toContain('status=critical');
    expect(calls.some((c) => c.url.searchParams.get('status') === 'critical')).toBe(true);
  });

  it('searches by id and filters by type', async () => {
    serveSensors(ALL);
    renderView(<SensorsView />, { path: '/sensors', route: '/sensors?type=vibration' });
    await waitFor(() => expect(screen.getByTestId('sensor-count')).toHaveTextContent('1,666 of 1,666 sensors'));
    await userEvent.type(screen.getByRole('searchbox', { name: 'Search' }), 'm00001-');
    await waitFor(() => expect(screen.getByTestId('sensor-count')).toHaveTextContent('1 of 1 sensors'));
    expect(screen.getByRole('link', { name: 'm00001-vibration-11' })).toBeInTheDocument();
  });

  it("shows each sensor's source and filters by it through the API", async () => {
    const calls = serveSensors(ALL.slice(0, 30));
    const { router } = renderView(<SensorsView />, { path: '/sensors', route: '/sensors' });
    await screen.findAllByTestId('sensor-row');
    expect(screen.getByRole('columnheader', { name: /Source/ })).toBeInTheDocument();
    const sourceOf = (s: SensorState) =>
      within(screen.getByRole('link', { name: s.id }).closest('tr') as HTMLElement).getByTestId('sensor-source');
    const shown = ALL.slice(0, 5).map((s) => sourceOf(s).textContent);
    expect(shown).toEqual(['Simulated', 'HTTP', 'MQTT', 'Replay', 'Unknown']);
    await userEvent.selectOptions(screen.getByLabelText('Source'), 'mqtt');
    await waitFor(() => expect(screen.getByTestId('sensor-count')).toHaveTextContent('6 of 6 sensors'));
    for (const cell of screen.getAllByTestId('sensor-source')) expect(cell).toHaveTextContent('MQTT');
    expect(router.state.location.search).toContain('source=mqtt');
    expect(calls.some((c) => c.url.searchParams.get('source') === 'mqtt')).toBe(true);
  });

  it('sorts by failure probability when its header is clicked', async () => {
    serveSensors(ALL.slice(0, 30));
    renderView(<SensorsView />, { path: '/sensors', route: '/sensors' });
    await screen.findAllByTestId('sensor-row');
    await userEvent.click(screen.getByRole('button', { name: /Failure/ }));
    const header = screen.getByRole('columnheader', { name: /Failure/ });
    expect(header).toHaveAttribute('aria-sort', 'descending');
    const first = screen.getAllByTestId('sensor-row')[0];
    expect(first).toBeDefined();
    // sensor(29): 29/97 is the highest failure probability among the first 30
    expect(within(first as HTMLElement).getByRole('link')).toHaveTextContent('m00004-vibration-29');
  });

  it('opens the detail panel for a deep-linked sensor', async () => {
    serveSensors(ALL.slice(0, 30));
    const target = ALL[7] as SensorState;
    renderView(<SensorsView />, { path: '/sensors/:sensorId', route: `/sensors/${target.id}` });
    const panel = await screen.findByRole('complementary', { name: target.id });
    expect(await within(panel).findByTestId('detail-failure')).toHaveTextContent('7.2 %');
    expect(within(panel).getByTestId('detail-score')).toHaveTextContent('0.07');
    expect(within(panel).getByTestId('detail-source')).toHaveTextContent('MQTT'); // sensor(7): the 3rd source
    expect(within(panel).getByRole('img', { name: /Live readings/ })).toBeInTheDocument();
  });
});
