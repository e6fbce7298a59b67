// Suggestions are ranked by priority and show their evidence and savings.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { OptimizationView } from '@/features/optimization/components/optimization-view';
import { mockFetch, renderView } from '@/testing/render';

const SUGGESTIONS = {
  generated_at: 1_700_000_000,
  currency: 'EUR',
  items: [
    {
      id: 'a',
      kind: 'operational',
      title: 'Switch off idle compressor',
      description: 'Compressor m00002 draws power while idle.',
      priority: 40,
      machine: 'm00002',
      sensors: ['m00002-power-0'],
      evidence: { idle_hours: 6, mean_idle_kw: 3.5 },
      estimated_saving_kwh: 21,
      estimated_saving_currency: 3.15,
    },
    {
      id: 'b',
      kind: 'peak_shifting',
      title: 'Shift the furnace start',
      description: 'Start 30 min later to avoid the peak.',
      priority: 90,
      machine: null,
      sensors: [],
      evidence: ['peak at 08:00', 'tariff 0.30'],
      estimated_saving_kwh: 100,
      estimated_saving_currency: 30,
    },
  ],
};

describe('OptimizationView', () => {
  it('ranks suggestions by priority with evidence and totals', async () => {
    const calls = mockFetch({ '/api/v1/optimization/suggestions': () => SUGGESTIONS });
    renderView(<OptimizationView />, { path: '/optimization', route: '/optimization' });
    const cards = await screen.findAllByTestId('suggestion');
    expect(within(cards[0] as HTMLElement).getByRole('heading')).toHaveTextContent('Shift the furnace start');
    expect(within(cards[0] as HTMLElement).getByText('priority 90')).toBeInTheDocument();
    expect(screen.getByText('121.0 kWh')).toBeInTheDocument();
    await userEvent.click(within(cards[1] as HTMLElement).getByText('Evidence'));
    expect(within(cards[1] as HTMLElement).getByText('idle hours')).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText('Kind'), 'operational');
    expect(calls.some((c) => c.url.searchParams.get('kind') === 'operational')).toBe(true);
    expect(screen.getByRole('link', { name: 'Export CSV' })).toHaveAttribute(
      'href',
      '/api/v1/export/suggestions.csv?kind=operational&format=csv',
    );
  });
});
