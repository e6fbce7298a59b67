// The storage view: the plan's savings, peak and solver status, each battery's SOC, and a notice before any plan.
import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { StorageView } from '@/features/storage/components/storage-view';
import { mockFetch, renderView } from '@/testing/render';

const step = (i: number, soc: number, battery: number) => ({
  ts: 1_767_225_600 + i * 900,
  load_kw: 100,
  import_price_per_kwh: i < 2 ? 0.18 : 0.32,
  export_price_per_kwh: 0,
  grid_import_kw: 100 - battery,
  battery_kw: battery,
  soc_frac: soc,
});

const plan = {
  site: 'plant-a',
  plan_id: 'p1',
  created_ts: 1_767_225_600,
  start_ts: 1_767_225_600,
  step_s: 900,
  status: 'relaxed',
  message: 'grid limit relaxed',
  solve_time_s: 0.0123,
  forecast: 'seasonal_naive',
  currency: 'EUR',
  expected_cost: 30.5,
  cost_without_battery: 42.25,
  savings: 11.75,
  peak_import_kw: 80,
  peak_import_without_battery_kw: 100,
  relaxed: ['grid_limits'],
  price_source: 'day-ahead (entsoe)',
  carbon_source: 'gb-carbon-intensity',
  carbon_weight_per_kg: 0.05,
  carbon_kg: 1200,
  carbon_kg_without_battery: 1350,
  schedule: [step(0, 0.6, -20), step(1, 0.7, -20), step(2, 0.6, 20), step(3, 0.5, 20)],
  batteries: [
    { name: 'battery', capacity_kwh: 200, p_batt_kw: [-20, -20, 20, 20], soc_frac: [0.5, 0.6, 0.7, 0.6, 0.5] },
  ],
};

describe('StorageView', () => {
  it('shows the expected savings, the peak with and without the battery and the solver status', async () => {
    mockFetch({ '/api/v1/storage/plan': () => plan });
    renderView(<StorageView />, { path: '/storage', route: '/storage' });
    expect(await screen.findByTestId('storage-savings')).toHaveTextContent('11.75');
    expect(screen.getByRole('region', { name: 'Expected savings' })).toHaveTextContent('42.25');
    expect(screen.getByTestId('storage-peak')).toHaveTextContent('80');
    expect(screen.getByRole('region', { name: 'Peak import' })).toHaveTextContent('100');
    expect(screen.getByTestId('storage-status')).toHaveTextContent('relaxed');
    expect(screen.getByText(/relaxed: grid_limits/)).toBeInTheDocument();
    expect(screen.getByTestId('storage-sources')).toHaveTextContent('day-ahead (entsoe)');
    expect(screen.getByRole('region', { name: 'Prices and carbon' })).toHaveTextContent('1,350 kg');
    const row = screen.getByRole('rowheader', { name: 'battery' }).closest('tr');
    expect(row).toHaveTextContent('50.0 %');
    expect(screen.getByRole('img', { name: /Planned state of charge/ })).toBeInTheDocument();
  });

  it('says so when there is no plan yet', async () => {
    mockFetch({ '/api/v1/storage/plan': () => ({ status: 404, body: { detail: 'no storage plan yet' } }) });
    renderView(<StorageView />, { path: '/storage', route: '/storage' });
    expect(await screen.findByTestId('storage-none')).toHaveTextContent('No storage plan yet');
  });
});
