// One sensor in detail: live sparkline (polled), last hour of history, anomaly score and failure probability.
import { useEffect, useState } from 'react';
import { Link } from 'react-router';

import { useSensor } from '@/features/sensors/api/get-sensor';
import { useSensorHistory } from '@/features/sensors/api/get-sensor-history';
import { ErrorMessage, Loading } from '@/components/query-state';
import { StatusBadge } from '@/components/status-badge';
import { TimeChart } from '@/components/time-chart';
import { formatInteger, formatNumber, formatPercent, formatTime, sourceLabel } from '@/lib/format';

const MAX_SPARK_POINTS = 300;

interface Spark {
  id: string;
  ts: number[];
  values: number[];
}

export function SensorDetail({ id, closeHref }: { id: string; closeHref: string }) {
  const query = useSensor(id);
  const history = useSensorHistory(id);
  const sensor = query.data;
  const [spark, setSpark] = useState<Spark>({ id, ts: [], values: [] });

  // Every poll that brings a newer reading adds a point to the sparkline.
  useEffect(() => {
    if (!sensor || sensor.id !== id) return;
    setSpark((prev) => {
      const base = prev.id === id ? prev : { id, ts: [], values: [] };
      const last = base.ts[base.ts.length - 1];
      if (last !== undefined && sensor.ts <= last) return base;
      return {
        id,
        ts: [...base.ts, sensor.ts].slice(-MAX_SPARK_POINTS),
        values: [...base.values, sensor.value].slice(-MAX_SPARK_POINTS),
      };
    });
  }, [sensor, id]);

  const sparkPoints = spark.id === id ? spark : { ts: [], values: [] };
  const historyPoints = history.data?.points ?? [];

  return (
    <aside className="card detail" aria-labelledby="sensor-detail-title">
      <div className="detail__header">
        <h2 id="sensor-detail-title">{id}</h2>
        <Link to={closeHref} className="button button--ghost" aria-label="Close sensor details">
          Close
        </Link>
      </div>
      {query.isPending ? <Loading what="the sensor" /> : null}
      {query.error ? <ErrorMessage error={query.error} what={`sensor ${id}`} /> : null}
      {sensor ? (
        <>
          <p className="detail__meta">
            <StatusBadge status={sensor.status} /> <span>{sensor.type}</span> on <strong>{sensor.machine}</strong>
            {sensor.kind ? <span className="muted"> · {sensor.kind}</span> : null}
          </p>
          <dl className="kv">
            <div>
              <dt>Value</dt>
              <dd data-testid="detail-value">
                {formatNumber(sensor.value, 2)} {sensor.unit}
              </dd>
            </div>
            <div>
              <dt>Anomaly score</dt>
              <dd data-testid="detail-score">{formatNumber(sensor.score, 2)}</dd>
            </div>
            <div>
              <dt>Failure probability</dt>
              <dd data-testid="detail-failure">{formatPercent(sensor.failure_probability)}</dd>
            </div>
            <div>
              <dt>Baseline</dt>
              <dd>
                {formatNumber(sensor.baseline_mean, 2)} ± {formatNumber(sensor.baseline_std, 2)}
              </dd>
            </div>
            <div>
              <dt>Readings / anomalies</dt>
              <dd>
                {formatInteger(sensor.readings)} / {formatInteger(sensor.anomalies)}
              </dd>
            </div>
            <div>
              <dt>Energy</dt>
              <dd>{formatNumber(sensor.energy_kwh, 2)} kWh</dd>
            </div>
            <div>
              <dt>Source</dt>
              <dd data-testid="detail-source">{sourceLabel(sensor.source)}</dd>
            </div>
            <div>
              <dt>Last reading</dt>
              <dd>{formatTime(sensor.ts)}</dd>
            </div>
          </dl>
          <h3>Live</h3>
          <TimeChart
            ts={sparkPoints.ts}
            series={[{ label: sensor.id, values: sparkPoints.values, colorVar: '--chart-1', unit: sensor.unit }]}
            label={`Live readings of ${sensor.id}: ${sparkPoints.ts.length} points, latest ${formatNumber(sensor.value, 2)} ${sensor.unit}`}
            height={70}
            sparkline
          />
          <h3>Last hour</h3>
          {history.error ? (
            <ErrorMessage error={history.error} what="the history" />
          ) : historyPoints.length > 0 ? (
            <TimeChart
              ts={historyPoints.map((p) => p.ts)}
              series={[
                { label: 'mean', values: historyPoints.map((p) => p.value), colorVar: '--chart-2', unit: sensor.unit },
              ]}
              label={`Mean per minute of ${sensor.id} over the last hour`}
              height={160}
            />
          ) : (
            <p className="muted">{history.isPending ? 'Loading history…' : 'No history recorded yet.'}</p>
          )}
          <p>
            <Link to={`/analytics?sensor=${encodeURIComponent(sensor.id)}`}>Open in Analytics</Link>
          </p>
        </>
      ) : null}
    </aside>
  );
}
