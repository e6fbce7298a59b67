// Dashboard: power, energy, cost, sensors by status, anomalies, the riskiest sensors and a live trend.
import { Link } from 'react-router';

import { useCurrency } from '@/features/dashboard/api/get-currency';
import { useDashboardStats } from '@/features/dashboard/api/get-dashboard-stats';
import { useEnergyToday } from '@/features/dashboard/api/get-energy-today';
import { LiveTrend } from '@/features/dashboard/components/live-trend';
import { StatusBreakdown } from '@/features/dashboard/components/status-breakdown';
import { PageHeader } from '@/components/page-header';
import { ErrorMessage } from '@/components/query-state';
import { StatCard } from '@/components/stat-card';
import { useLive } from '@/hooks/use-live';
import { formatInteger, formatMoney, formatNumber, formatPercent, formatTime } from '@/lib/format';
import { useSettings } from '@/lib/settings-store';

export function DashboardView() {
  const rest = useDashboardStats();
  const liveStats = useLive((s) => s.stats);
  const producer = useLive((s) => s.producer);
  const alerts = useLive((s) => s.alerts);
  const trend = useLive((s) => s.trend);
  const settings = useSettings();
  const currencyQuery = useCurrency();
  const today = useEnergyToday();
  const stats = liveStats ?? rest.data;
  const currency = settings.currency || currencyQuery.data || 'EUR';
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
        {today.data !== undefined ? (
          <StatCard
            label="Energy today"
            value={<>{formatNumber(today.data, 1)} kWh</>}
            hint={`${formatNumber(stats?.energy_kwh, 1)} kWh since the site started`}
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
          label={today.data !== undefined ? 'Cost today' : 'Cost'}
          value={formatMoney(
            today.data !== undefined ? today.data * settings.tariff : stats ? stats.energy_kwh * settings.tariff : null,
            currency,
          )}
          hint={`at ${formatNumber(settings.tariff, 3)} ${currency}/kWh (change in Settings)`}
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
