// The live trend: total power and active anomalies, one point per WebSocket update.
import { TimeChart } from '@/components/time-chart';
import { useLive } from '@/hooks/use-live';

export function LiveTrend() {
  const trend = useLive((s) => s.trend);
  const points = trend.ts.length;
  const last = trend.powerKw[points - 1];
  return (
    <section className="card card--wide" aria-labelledby="live-trend-title">
      <div className="card__header">
        <h2 id="live-trend-title">Live trend</h2>
        <p className="muted">{points} points, updated with every push from the API</p>
      </div>
      <TimeChart
        ts={trend.ts}
        label={`Total power over the last ${points} updates${last !== undefined ? `, now ${last.toFixed(1)} kW` : ''}`}
        height={220}
        series={[{ label: 'Total power', values: trend.powerKw, colorVar: '--chart-1', unit: 'kW', fill: true }]}
      />
      <h3 className="chart-subtitle">Active anomalies</h3>
      <TimeChart
        ts={trend.ts}
        label="Sensors in warning or critical over the same period"
        height={110}
        series={[{ label: 'Active anomalies', values: trend.activeAnomalies, colorVar: '--chart-critical' }]}
      />
    </section>
  );
}
