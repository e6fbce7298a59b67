// The devices view: gateways with last seen, rate, rejected readings and why; a gateway's declared sensors.
import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { DevicesView } from '@/features/devices/components/devices-view';
import { mockFetch, renderView } from '@/testing/render';

const gateway = {
  gateway: 'press-7',
  transport: 'mqtt',
  first_seen: '2026-12-01T08:00:00Z',
  last_seen: new Date(Date.now() - 5_000).toISOString(),
  readings: 12345,
  rejected: 7,
  rejected_by_reason: { plausible: 5, timestamp: 2 },
  last_rejection: 'value 1e+300 outside the plausible temperature range',
  sensors: 4,
  declared_sensors: 1,
  rate: 41.5,
};

describe('DevicesView', () => {
  it('lists gateways with their rejections and shows a gateway’s sensors', async () => {
    mockFetch({
      '/api/v1/devices': () => ({ items: [gateway], total: 1, limit: 1000, offset: 0 }),
      '/api/v1/devices/sensors': () => ({
        items: [
          {
            sensor_id: 'press-7.spindle',
            gateway: 'press-7',
            type: 'current',
            unit: 'A',
            machine: 'lathe-2',
            declared_at: '2026-12-01T08:00:00Z',
            updated_at: '2026-12-01T08:00:00Z',
          },
        ],
        total: 1,
        limit: 1000,
        offset: 0,
      }),
    });
    renderView(<DevicesView />, { path: '/devices', route: '/devices' });
    const row = (await screen.findByRole('rowheader', { name: 'press-7' })).closest('tr');
    expect(row).toHaveTextContent('mqtt');
    expect(row).toHaveTextContent('12,345');
    expect(row).toHaveTextContent('plausible 5, timestamp 2');
    fireEvent.click(screen.getByRole('button', { name: '1 declared' }));
    expect(await screen.findByRole('rowheader', { name: 'press-7.spindle' })).toBeInTheDocument();
    expect(screen.getByText('lathe-2')).toBeInTheDocument();
  });

  it('says how to connect a gateway when there is none', async () => {
    mockFetch({ '/api/v1/devices': () => ({ items: [], total: 0, limit: 1000, offset: 0 }) });
    renderView(<DevicesView />, { path: '/devices', route: '/devices' });
    expect(await screen.findByTestId('devices-empty')).toHaveTextContent('docs/devices.md');
  });
});
