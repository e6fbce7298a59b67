// Forecast vs actual: the measured load, the forecast's P50 and its P10–P90 band, with the model, its version and
// its backtest error (MASE beside the seasonal-naive yardstick), and how the forecast is doing since it was issued.
import { useMemo } from 'react';

import { ApiError } from '@/lib/api-client';
import type { Forecast, ForecastActual } from '@/lib/api/types';
import { formatDateTime, formatNumber, formatPercent } from '@/lib/format';
import { type ForecastQuery, useActual, useForecast } from '@/hooks/use-forecast';
import { ErrorMessage, Loading } from '@/components/query-state';
import { TimeChart } from '@/components/time-chart';

export interface ForecastSeries {
  ts: number[];
  actual: (number | null)[];
  p10: (number | null)[];
  p50: (number | null)[];
  p90: (number | null)[];
}

/** One timeline for both: the measured steps, then (and overlapping) the forecast's steps. */
export function mergeSeries(forecast: Forecast, actual: ForecastActual | undefined): ForecastSeries {
  const byTs = new Map<number, { actual?: number; p10?: number; p50?: number; p90?: number }>();
  for (const p of actual?.points ?? []) byTs.set(p.ts, { ...byTs.get(p.ts), actual: p.kw });
  for (const p of forecast.points) byTs.set(p.ts, { ...byTs.get(p.ts), p10: p.p10, p50: p.p50, p90: p.p90 });
  const ts = [...byTs.keys()].sort((a, b) => a - b);
  const pick = (key: 'actual' | 'p10' | 'p50' | 'p90') => ts.map((t) => byTs.get(t)?.[key] ?? null);
  return { ts, actual: pick('actual'), p10: pick('p10'), p50: pick('p50'), p90: pick('p90') };
}

export interface ForecastScore {
  steps: number;
  maeKw: number;
  insideBand: number;
}

/** How the current forecast fares on the steps already measured (none right after it was issued). */
export function scoreSoFar(series: ForecastSeries): ForecastScore | null {
  let steps = 0;
  let absError = 0;
  let inside = 0;
  series.ts.forEach((_, i) => {
    const a = series.actual[i];
    const p50 = series.p50[i];
    const p10 = series.p10[i];
    const p90 = series.p90[i];
    if (a == null || p50 == null || p10 == null || p90 == null) return;
    steps += 1;
    absError += Math.abs(a - p50);
    if (a >= p10 && a <= p90) inside += 1;
  });
  return steps === 0 ? null : { steps, maeKw: absError / steps, insideBand: inside / steps };
}

export function ForecastPanel({
  query,
  title,
  lookbackHours = 24,
  height = 280,
}: {
  query: ForecastQuery;
  title: string;
  lookbackHours?: number;
  height?: number;
}) {
  const forecast = useForecast(query);
  const f = forecast.data;
  const step = f ? Math.max(60, Math.round(f.step_s / 60) * 60) : 900;
  const to = f ? Math.max(f.issued_ts, ...f.points.slice(-1).map((p) => p.ts)) : 0;
  const actual = useActual(
    { ...query, from: f ? f.issued_ts - lookbackHours * 3600 : 0, to: to + step, step },
    Boolean(f),
  );
  const series = useMemo(() => (f ? mergeSeries(f, actual.data) : null), [f, actual.data]);
  const score = useMemo(() => (series ? scoreSoFar(series) : null), [series]);
  const subject = query.scope === 'site' ? 'the site' : `machine ${query.id ?? ''}`;
  const titleId = `forecast-title-${query.scope}-${query.id ?? ''}`;

  return (
    <section className="card card--wide" aria-labelledby={titleId} data-testid="forecast-panel">
      <h2 id={titleId}>{title}</h2>
      {forecast.isLoading ? <Loading what="the forecast" /> : null}
      {forecast.error instanceof ApiError && forecast.error.status === 404 ? (
        <p className="muted" data-testid="forecast-none">
          No forecast of {subject} yet: the forecaster publishes one every step once it has enough history.
        </p>
      ) : forecast.error ? (
        <ErrorMessage error={forecast.error} what="the forecast" />
      ) : null}
      {f && series ? (
        <>
          <dl className="kv kv--compact" data-testid="forecast-model">
            <div>
              <dt>Model</dt>
              <dd>
                {f.model} <span className="muted">{f.model_version}</span>
              </dd>
            </div>
            <div>
              <dt>Backtest MASE</dt>
              <dd title="Mean absolute scaled error of the rolling-origin backtest; below 1 beats a naive forecast">
                {formatNumber(f.backtest_mase, 3)}{' '}
                <span className="muted">(seasonal naive {formatNumber(f.yardstick_mase, 3)})</span>
              </dd>
            </div>
            <div>
              <dt>Issued</dt>
              <dd>{formatDateTime(f.issued_ts)}</dd>
            </div>
            <div>
              <dt>Since then</dt>
              <dd data-testid="forecast-score">
                {score
                  ? `${score.steps} steps measured: MAE ${formatNumber(score.maeKw, 1)} ${f.unit}, ${formatPercent(score.insideBand, 0)} inside P10–P90`
                  : 'no step measured yet'}
              </dd>
            </div>
          </dl>
          {actual.error ? <ErrorMessage error={actual.error} what="the measured load" /> : null}
          <TimeChart
            ts={series.ts}
            series={[
              { label: `Actual (${f.unit})`, values: series.actual, colorVar: '--chart-1', unit: f.unit },
              { label: 'P10', values: series.p10, colorVar: '--chart-2', width: 1 },
              { label: 'P90', values: series.p90, colorVar: '--chart-2', width: 1 },
              { label: 'Forecast P50', values: series.p50, colorVar: '--chart-2', dash: [6, 4] },
            ]}
            band={{ upper: 2, lower: 1, colorVar: '--chart-2' }}
            label={`Forecast vs actual load of ${subject}: ${f.points.length} forecast steps with the P10–P90 band, ${actual.data?.points.length ?? 0} measured steps`}
            height={height}
          />
          <p className="muted small">
            Solid: measured mean {f.unit} per {Math.round(f.step_s / 60)} min; dashed: the forecast&apos;s median,
            shaded between P10 and P90.
          </p>
        </>
      ) : null}
    </section>
  );
}
