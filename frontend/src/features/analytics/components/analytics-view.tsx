// Analytics: history of one sensor or one sensor type over a chosen range (site-local days for long ranges), with the
// metric to aggregate, and the load forecast against the measured load.
import { type ReactNode, useEffect, useMemo, useState } from 'react';

import { useHistory } from '@/features/analytics/api/get-history';
import {
  RANGE_PRESETS,
  type RangeId,
  RangePicker,
  type RangeValue,
  autoStep,
  resolveRange,
} from '@/features/analytics/components/range-picker';
import { useSearchPatch } from '@/hooks/use-search-patch';
import { ExportLinks } from '@/components/export-links';
import { ForecastPanel } from '@/components/forecast-panel';
import { PageHeader } from '@/components/page-header';
import { ErrorMessage, Loading } from '@/components/query-state';
import { StatCard } from '@/components/stat-card';
import { TimeChart } from '@/components/time-chart';
import { formatDateTime, formatInteger, formatNumber } from '@/lib/format';
import { useSiteTimeZone } from '@/lib/site-time';
import { HISTORY_METRICS, type HistoryMetric, SENSOR_TYPES, type SensorType } from '@/lib/api/types';

const METRIC_LABELS: Record<HistoryMetric, string> = {
  mean: 'Mean value',
  min: 'Minimum',
  max: 'Maximum',
  last: 'Last value',
  energy_kwh: 'Energy (kWh)',
  anomalies: 'Anomalies',
  readings: 'Readings',
};

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000));
  useEffect(() => {
    const timer = setInterval(() => setNow(Math.floor(Date.now() / 1000)), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function AnalyticsView() {
  const [params, patchParams] = useSearchPatch();
  const sensor = params.get('sensor') ?? '';
  const scope: 'sensor' | 'type' = sensor || params.get('scope') === 'sensor' ? 'sensor' : 'type';
  const type = SENSOR_TYPES.includes(params.get('type') as SensorType) ? (params.get('type') as SensorType) : 'power';
  const metric = HISTORY_METRICS.includes(params.get('metric') as HistoryMetric)
    ? (params.get('metric') as HistoryMetric)
    : 'mean';
  const rangeParam = params.get('range');
  const range: RangeId =
    rangeParam === 'custom' || rangeParam === 'today' || RANGE_PRESETS.some((p) => p.id === rangeParam)
      ? (rangeParam as RangeId)
      : '1h';
  const fromParam = Number(params.get('from'));
  const toParam = Number(params.get('to'));
  const rangeValue: RangeValue = {
    range,
    from: Number.isFinite(fromParam) && fromParam > 0 ? fromParam : null,
    to: Number.isFinite(toParam) && toParam > 0 ? toParam : null,
  };
  const now = useNow(30_000);
  const zone = useSiteTimeZone();
  const span = resolveRange(rangeValue, now, zone);
  const step = autoStep(span.to - span.from);
  // a day per bucket means the site's local days (23 or 25 hours across DST), not UTC's
  const per = step >= 86_400 ? ('day' as const) : null;
  const [sensorText, setSensorText] = useState(sensor);
  useEffect(() => setSensorText(sensor), [sensor]);

  const history = useHistory({
    sensor: scope === 'sensor' ? sensor || null : null,
    type: scope === 'type' ? type : null,
    metric,
    from: span.from,
    to: span.to,
    step,
    per,
  });

  const set = patchParams;

  const points = useMemo(() => history.data?.points ?? [], [history.data]);
  const summary = useMemo(() => {
    if (points.length === 0) return null;
    const values = points.map((p) => p.value);
    const total = values.reduce((a, b) => a + b, 0);
    return { min: Math.min(...values), max: Math.max(...values), mean: total / values.length, total };
  }, [points]);
  // the forecaster forecasts each machine's power sensor, `<machine>-power`
  const machine = scope === 'sensor' && sensor.endsWith('-power') ? sensor.slice(0, -'-power'.length) : null;
  const subject = scope === 'sensor' ? (sensor ? `sensor ${sensor}` : 'a sensor') : `all ${type} sensors`;
  // the server names the values' unit (the sensor type's, kWh or readings); energy's label already says kWh
  const unit = history.data?.unit ?? null;
  const withUnit = (value: ReactNode) =>
    unit ? (
      <>
        {value} {unit}
      </>
    ) : (
      value
    );
  const seriesLabel = unit && metric !== 'energy_kwh' ? `${METRIC_LABELS[metric]} (${unit})` : METRIC_LABELS[metric];

  return (
    <>
      <PageHeader
        title="Analytics"
        description="History from the rollups, per sensor or per sensor type."
        actions={
          <ExportLinks
            path="/api/v1/export/history.csv"
            what="history"
            query={{
              sensor: scope === 'sensor' ? sensor || null : null,
              type: scope === 'type' ? type : null,
              from: String(Math.floor(span.from)),
              to: String(Math.ceil(span.to)),
            }}
          />
        }
      />
      <form className="filters" aria-label="History query" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="segmented-field">
          <legend>Per</legend>
          <div className="segmented">
            <label className={scope === 'type' ? 'segmented__item is-active' : 'segmented__item'}>
              <input
                type="radio"
                name="scope"
                checked={scope === 'type'}
                onChange={() => set({ scope: 'type', sensor: null })}
              />
              Sensor type
            </label>
            <label className={scope === 'sensor' ? 'segmented__item is-active' : 'segmented__item'}>
              <input type="radio" name="scope" checked={scope === 'sensor'} onChange={() => set({ scope: 'sensor' })} />
              Sensor
            </label>
          </div>
        </fieldset>
        {scope === 'type' ? (
          <label className="field">
            <span>Type</span>
            <select value={type} onChange={(e) => set({ type: e.target.value })}>
              {SENSOR_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label className="field">
            <span>Sensor id</span>
            <input
              type="text"
              value={sensorText}
              placeholder="e.g. m001-power-0"
              onChange={(e) => setSensorText(e.target.value)}
              onBlur={() => set({ sensor: sensorText.trim() || null })}
              onKeyDown={(e) => {
                if (e.key === 'Enter') set({ sensor: sensorText.trim() || null });
              }}
            />
          </label>
        )}
        <label className="field">
          <span>Metric</span>
          <select value={metric} onChange={(e) => set({ metric: e.target.value })}>
            {HISTORY_METRICS.map((m) => (
              <option key={m} value={m}>
                {METRIC_LABELS[m]}
              </option>
            ))}
          </select>
        </label>
        <RangePicker
          value={rangeValue}
          now={now}
          onChange={(v) =>
            set({ range: v.range, from: v.range === 'custom' ? v.from : null, to: v.range === 'custom' ? v.to : null })
          }
        />
      </form>
      <p className="muted">
        {formatDateTime(span.from)} – {formatDateTime(span.to)} ({zone}),{' '}
        {per ? 'one bucket per local day' : `one bucket per ${formatInteger(step)} s`}
      </p>
      {scope === 'sensor' && !sensor ? <p className="notice">Enter a sensor id to see its history.</p> : null}
      {history.error ? <ErrorMessage error={history.error} what="the history" /> : null}
      {history.isLoading ? <Loading what="history" /> : null}
      {history.data ? (
        <>
          <div className="stat-grid">
            <StatCard label="Buckets" value={formatInteger(points.length)} />
            <StatCard label="Minimum" value={withUnit(formatNumber(summary?.min, 2))} testId="history-min" />
            <StatCard label="Maximum" value={withUnit(formatNumber(summary?.max, 2))} testId="history-max" />
            <StatCard
              label={metric === 'energy_kwh' || metric === 'anomalies' || metric === 'readings' ? 'Total' : 'Average'}
              value={withUnit(
                formatNumber(
                  metric === 'energy_kwh' || metric === 'anomalies' || metric === 'readings'
                    ? summary?.total
                    : summary?.mean,
                  2,
                ),
              )}
            />
          </div>
          <section className="card" aria-labelledby="history-title">
            <h2 id="history-title">
              {seriesLabel} of {subject}
            </h2>
            {points.length > 0 ? (
              <TimeChart
                ts={points.map((p) => p.ts)}
                series={[
                  {
                    label: seriesLabel,
                    values: points.map((p) => p.value),
                    colorVar: '--chart-1',
                    fill: true,
                  },
                ]}
                label={`${seriesLabel} of ${subject}, ${points.length} buckets`}
                height={320}
                bars={metric === 'anomalies' || metric === 'readings' || metric === 'energy_kwh'}
              />
            ) : (
              <p className="muted">No data in this range.</p>
            )}
          </section>
        </>
      ) : null}
      <div className="dashboard-grid">
        <ForecastPanel query={{ scope: 'site' }} title="Site load: forecast vs actual" lookbackHours={48} />
        {machine ? (
          <ForecastPanel query={{ scope: 'machine', id: machine }} title={`Machine ${machine}: forecast vs actual`} />
        ) : null}
      </div>
    </>
  );
}
