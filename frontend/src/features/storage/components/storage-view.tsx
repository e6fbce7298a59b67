// Storage: the battery plan — state of charge, charge/discharge, prices, forecast load and the expected savings.
import { useStoragePlan } from '@/features/storage/api/get-storage-plan';
import { PageHeader } from '@/components/page-header';
import { ErrorMessage, Loading } from '@/components/query-state';
import { StatCard } from '@/components/stat-card';
import { TimeChart } from '@/components/time-chart';
import { ApiError } from '@/lib/api-client';
import type { StoragePlan } from '@/lib/api/types';
import { formatDateTime, formatMoney, formatNumber, formatPercent } from '@/lib/format';

function Summary({ plan }: { plan: StoragePlan }) {
  const degraded = plan.status !== 'optimal';
  return (
    <div className="stat-grid">
      <StatCard
        label="Expected savings"
        value={formatMoney(plan.savings, plan.currency)}
        hint={`vs ${formatMoney(plan.cost_without_battery, plan.currency)} without the battery`}
        tone="ok"
        testId="storage-savings"
      />
      <StatCard
        label="Expected cost"
        value={formatMoney(plan.expected_cost, plan.currency)}
        hint={`over ${formatNumber((plan.schedule.length * plan.step_s) / 3600, 0)} h`}
        testId="storage-cost"
      />
      <StatCard
        label="Peak import"
        value={`${formatNumber(plan.peak_import_kw)} kW`}
        hint={`${formatNumber(plan.peak_import_without_battery_kw)} kW without the battery`}
        testId="storage-peak"
      />
      <StatCard
        label="Solver"
        value={plan.status}
        hint={`${formatNumber(plan.solve_time_s * 1000, 0)} ms · forecast: ${plan.forecast}`}
        tone={degraded ? 'warning' : 'default'}
        testId="storage-status"
      />
      <StatCard
        label="Prices and carbon"
        value={plan.price_source || 'tariff'}
        hint={
          plan.carbon_weight_per_kg > 0
            ? `carbon: ${plan.carbon_source} · ${formatNumber(plan.carbon_kg, 0)} kg CO₂ vs ${formatNumber(plan.carbon_kg_without_battery, 0)} kg without the battery`
            : `carbon: ${plan.carbon_source || 'not weighed'}`
        }
        testId="storage-sources"
      />
    </div>
  );
}

function Charts({ plan }: { plan: StoragePlan }) {
  const ts = plan.schedule.map((s) => s.ts);
  return (
    <>
      <section className="card" aria-labelledby="storage-soc-title">
        <h2 id="storage-soc-title">State of charge and battery power</h2>
        <TimeChart
          ts={ts}
          label="Planned state of charge (%) and battery power (kW, positive discharges)"
          series={[
            { label: 'SOC', values: plan.schedule.map((s) => s.soc_frac * 100), colorVar: '--chart-1', unit: '%' },
            { label: 'Battery', values: plan.schedule.map((s) => s.battery_kw), colorVar: '--chart-2', unit: 'kW' },
          ]}
        />
      </section>
      <section className="card" aria-labelledby="storage-load-title">
        <h2 id="storage-load-title">Forecast load and planned grid import</h2>
        <TimeChart
          ts={ts}
          label="Forecast load and planned grid import (kW)"
          series={[
            { label: 'Load', values: plan.schedule.map((s) => s.load_kw), colorVar: '--chart-1', unit: 'kW' },
            { label: 'Import', values: plan.schedule.map((s) => s.grid_import_kw), colorVar: '--chart-2', unit: 'kW' },
          ]}
        />
      </section>
      <section className="card" aria-labelledby="storage-price-title">
        <h2 id="storage-price-title">Prices</h2>
        <TimeChart
          ts={ts}
          bars
          label={`Import and export price (${plan.currency}/kWh)`}
          series={[
            {
              label: 'Import',
              values: plan.schedule.map((s) => s.import_price_per_kwh),
              colorVar: '--chart-1',
              unit: plan.currency,
            },
            {
              label: 'Export',
              values: plan.schedule.map((s) => s.export_price_per_kwh),
              colorVar: '--chart-2',
              unit: plan.currency,
            },
          ]}
        />
      </section>
    </>
  );
}

function Batteries({ plan }: { plan: StoragePlan }) {
  return (
    <section className="card" aria-labelledby="storage-batteries-title">
      <h2 id="storage-batteries-title">Batteries</h2>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Battery</th>
            <th scope="col" className="num">
              Capacity (kWh)
            </th>
            <th scope="col" className="num">
              SOC now
            </th>
            <th scope="col" className="num">
              SOC at horizon end
            </th>
          </tr>
        </thead>
        <tbody>
          {plan.batteries.map((b) => (
            <tr key={b.name}>
              <th scope="row">{b.name}</th>
              <td className="num">{formatNumber(b.capacity_kwh, 0)}</td>
              <td className="num">{formatPercent(b.soc_frac[0] ?? 0)}</td>
              <td className="num">{formatPercent(b.soc_frac[b.soc_frac.length - 1] ?? 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Plan of {formatDateTime(plan.created_ts)}
        {plan.relaxed.length ? ` · relaxed: ${plan.relaxed.join(', ')}` : ''}
        {plan.status !== 'optimal' && plan.message ? ` · ${plan.message}` : ''}
      </p>
    </section>
  );
}

export function StorageView() {
  const query = useStoragePlan();
  const plan = query.data;
  const noPlan = query.error instanceof ApiError && query.error.status === 404;
  return (
    <>
      <PageHeader
        title="Storage"
        description="The storage optimizer's battery plan: when it charges and discharges, and what that saves."
      />
      {noPlan ? (
        <p className="notice" data-testid="storage-none">
          No storage plan yet: the site has no battery, or <code>gridwatch storage</code> is not running.
        </p>
      ) : null}
      {query.error && !noPlan ? <ErrorMessage error={query.error} what="the storage plan" /> : null}
      {query.isPending ? <Loading what="the storage plan" /> : null}
      {plan ? (
        <>
          <Summary plan={plan} />
          <Charts plan={plan} />
          <Batteries plan={plan} />
        </>
      ) : null}
    </>
  );
}
