// Dashboard: power, energy and cost today (the site's day and tariff, from the API), sensors by status, anomalies,
// the riskiest sensors, a live trend and the site's load forecast against the measured load.
import { Link } from 'react-router';

import { useDashboardStats } from '@/features/dashboard/api/get-dashboard-stats';
import { useEnergyToday } from '@/features/dashboard/api/get-energy-cost';
import { LiveTrend } from '@/features/dashboard/components/live-trend';
import { StatusBreakdown } from '@/features/dashboard/components/status-breakdown';
import { PageHeader } from '@/components/page-header';
import { ForecastPanel } from '@/components/forecast-panel';
import { ErrorMessage } from '@/components/query-state';
import { StatCard } from '@/components/stat-card';
import { useLive } from '@/hooks/use-live';
import { formatDay, formatInteger, formatMoney, formatNumber, formatPercent, formatTime } from '@/lib/format';

export function DashboardView() {
  const rest = useDashboardStats();
  const liveStats = useLive((s) => s.stats);
  const producer = useLive((s) => s.producer);
  const alerts = useLive((s) => s.alerts);
  const trend = useLive((s) => s.trend);
  const today = useEnergyToday();
  const stats = liveStats ?? rest.data;
  const day = today.data;
  const rate = trend.readingsRate[trend.readingsRate.length - 1];

  return (
    <>
      <PageHeader
        title="Dashboard"
        description={
          stats
            ? `Site ${stats.site} · last reading ${formatTime(stats.last_reading_ts)}`
            : 'Waiting for the first update…'
        }
      />
      {!stats && rest.error ? <ErrorMessage error={rest.error} what="the site statistics" /> : null}
      <div className="stat-grid">
        <StatCard
          label="Total power"
          value={<>{formatNumber(stats?.total_power_kw, 1)} kW</>}
          hint={`${formatInteger(stats?.total_sensors)} sensors reporting`}
          testId="stat-power"
        />
        {day ? (
          <StatCard
            label="Energy today"
            value={<>{formatNumber(day.total_energy_kwh, 1)} kWh</>}
            hint={`${formatDay(day.from)} since local midnight (${day.timezone})`}
            testId="stat-energy"
          />
        ) : (
          <StatCard
            label="Energy"
            value={<>{formatNumber(stats?.energy_kwh, 1)} kWh</>}
            hint="metered since the site started"
            testId="stat-energy"
          />
        )}
        <StatCard
          label="Cost today"
          value={day ? formatMoney(day.total_cost, day.currency) : '—'}
          hint={
            day
              ? `at the site's tariff, ${day.currency}`
              : today.error
                ? 'needs the site history (PostgreSQL)'
                : 'loading the site tariff…'
          }
          testId="stat-cost"
        />
        <StatCard
          label="Active anomalies"
          value={formatInteger(stats?.active_anomalies)}
          hint={`${formatInteger(stats?.anomalies_total)} anomalous readings so far`}
          tone={
            stats && stats.status_counts.critical > 0
              ? 'critical'
              : stats && stats.active_anomalies > 0
                ? 'warning'
                : 'ok'
          }
          testId="stat-anomalies"
        />
        <StatCard
          label="Readings"
          value={formatInteger(stats?.readings_total)}
          hint={rate !== undefined ? `${formatNumber(rate, 0)} readings/s` : 'rate after the next update'}
          testId="stat-readings"
        />
      </div>
      <div className="dashboard-grid">
        <LiveTrend />
        <ForecastPanel query={{ scope: 'site' }} title="Site load: forecast vs actual" />
        <StatusBreakdown counts={stats?.status_counts} producer={producer} />
        <section className="card" aria-labelledby="risk-title">
          <h2 id="risk-title">Highest failure probability</h2>
          {stats && stats.top_failure_probabilities.length > 0 ? (
            <ol className="risk-list">
              {stats.top_failure_probabilities.slice(0, 8).map((item) => (
                <li key={item.id}>
                  <Link to={`/sensors/${encodeURIComponent(item.id)}`}>{item.id}</Link>
                  <span className="risk-list__value">{formatPercent(item.failure_probability)}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p className="muted">No sensor at risk.</p>
          )}
        </section>
        <section className="card card--wide" aria-labelledby="critical-title">
          <h2 id="critical-title">Latest critical alerts</h2>
          {alerts.length > 0 ? (
            <ul className="alert-feed">
              {alerts.slice(0, 8).map((alert, index) => (
                <li key={`${alert.sensor_id}-${alert.ts}-${index}`}>
                  <span className="muted">{formatTime(alert.ts)}</span>{' '}
                  <Link to={`/sensors/${encodeURIComponent(alert.sensor_id)}`}>{alert.sensor_id}</Link> {alert.message}
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">No critical alert since this page opened.</p>
          )}
        </section>
      </div>
    </>
  );
}
