// The site view: local mode says so; on Kubernetes it shows components, lag and the last scaling decision.
import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { SiteView } from '@/features/site/components/site-view';
import { mockFetch, renderView } from '@/testing/render';

describe('SiteView', () => {
  it('says "not running on Kubernetes" in local mode', async () => {
    mockFetch({ '/api/v1/site': () => ({ mode: 'local', kubernetes: false, message: 'not running on Kubernetes' }) });
    renderView(<SiteView />, { path: '/site', route: '/site' });
    expect(await screen.findByTestId('site-mode')).toHaveTextContent('not running on Kubernetes');
  });

  it('shows desired versus ready, consumer lag and the last scaling decision', async () => {
    mockFetch({
      '/api/v1/site': () => ({
        mode: 'kubernetes',
        kubernetes: true,
        site: 'plant-a',
        namespace: 'energy',
        generation: 3,
        observedGeneration: 3,
        ready: false,
        paused: false,
        conditions: [{ type: 'Ready', status: 'True', reason: 'AllReady', message: 'all components ready' }],
        components: {
          simulator: { desired: 1, ready: 1 },
          processor: { desired: 4, ready: 3 },
          api: { desired: 2, ready: 2 },
        },
        processors: '3/4',
        consumerLag: 1234,
        consumerLagReadings: 617000,
        helm: { revision: 7, chartVersion: '0.1.0' },
        scaling: {
          replicas: 4,
          lastDecision: {
            time: '2026-01-01T10:00:00Z',
            from: 3,
            to: 4,
            lag: 3900,
            reason: 'lag 3900 > 1000 per replica',
          },
          capacity: { messagesPerSecondPerProcessor: 1234.5, measuredAt: '2026-01-01T10:05:00Z' },
        },
        sensors: 300,
        autoscaling: true,
      }),
    });
    renderView(<SiteView />, { path: '/site', route: '/site' });
    expect(await screen.findByTestId('site-lag')).toHaveTextContent('617,000');
    expect(screen.getByText(/not consumed yet \(1,234 Kafka messages\)/)).toBeInTheDocument();
    expect(screen.getByTestId('site-name')).toHaveTextContent('plant-a');
    const processor = screen.getByRole('rowheader', { name: 'processor' }).closest('tr');
    expect(processor).toHaveTextContent('43');
    expect(screen.getByText('lag 3900 > 1000 per replica')).toBeInTheDocument();
    expect(screen.getByText('3 → 4')).toBeInTheDocument();
    expect(screen.getByText('3,900')).toBeInTheDocument();
    expect(screen.getByText('chart 0.1.0')).toBeInTheDocument();
    expect(screen.getByTestId('site-capacity')).toHaveTextContent('One processor drains 1,235 Kafka messages/s');
    expect(screen.getByText('all components ready')).toBeInTheDocument();
  });
});
