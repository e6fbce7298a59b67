// The site view: local mode says so; on Kubernetes it shows components, lag and the last scaling decision.
import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { SiteView } from '@/features/site/components/site-view';
import { mockFetch, renderView } from '@/testing/render';

describe('SiteView', () => {
  it('says "not running on Kubernetes" in local mode', async () => {
    mockFetch({ '/api/site': () => ({ mode: 'local', kubernetes: false, message: 'not running on Kubernetes' }) });
    renderView(<SiteView />, { path: '/site', route: '/site' });
    expect(await screen.findByTestId('site-mode')).toHaveTextContent('not running on Kubernetes');
  });

  it('shows desired versus ready, consumer lag and the last scaling decision', async () => {
    mockFetch({
      '/api/site': () => ({
        mode: 'kubernetes',
        name: 'plant-a',
        namespace: 'energy',
        conditions: [{ type: 'Ready', status: 'True', reason: 'AllReady', message: 'all components ready' }],
        components: {
          simulator: { desired: 1, ready: 1 },
          processor: { desired: 4, ready: 3 },
          api: { desired: 2, ready: 2 },
        },
        consumerLag: 1234,
        lastScalingDecision: { time: '2026-01-01T10:00:00Z', from: 3, to: 4, reason: 'lag 1234 > 1000 per replica' },
        helmRevision: 7,
      }),
    });
    renderView(<SiteView />, { path: '/site', route: '/site' });
    expect(await screen.findByTestId('site-lag')).toHaveTextContent('1,234');
    const processor = screen.getByRole('rowheader', { name: 'processor' }).closest('tr');
    expect(processor).toHaveTextContent('43');
    expect(screen.getByText('lag 1234 > 1000 per replica')).toBeInTheDocument();
    expect(screen.getByText('3 → 4')).toBeInTheDocument();
    expect(screen.getByText('all components ready')).toBeInTheDocument();
  });
});
