// Test data shaped like the API's answers.
import type {
  DashboardStats,
  EnergyCost,
  Forecast,
  ForecastActual,
  ProducerStatus,
  SensorSource,
  SensorState,
  SensorStatus,
  SensorType,
} from '@/lib/api/types';

const TYPES: SensorType[] = ['power', 'current', 'voltage', 'temperature', 'pressure', 'vibration'];
// every 5th sensor has no source: a producer older than the field
const SOURCES: (SensorSource | null)[] = ['simulated', 'http', 'mqtt', 'replay', null];

export function sensor(i: number, overrides: Partial<SensorState> = {}): SensorState {
  const type = TYPES[i % TYPES.length] ?? 'power';
  const status: SensorStatus = i % 50 === 0 ? 'critical' : i % 10 === 0 ? 'warning' : 'normal';
  return {
    id: `m${String(Math.floor(i / 6)).padStart(5, '0')}-${type}-${i}`,
    machine: `m${String(Math.floor(i / 6)).padStart(5, '0')}`,
    type,
    unit: 'kW',
    value: 10 + (i % 7),
    ts: 1_700_000_000 + i,
    score: (i % 100) / 100,
    anomaly: status !== 'normal',
    failure_probability: (i % 97) / 97,
    status,
    kind: status === 'normal' ? '' : 'drift',
    readings: 100,
    anomalies: status === 'normal' ? 0 : 3,
    energy_kwh: 1.5,
    baseline_mean: 10,
    baseline_std: 1,
    hazard: 0.01,
    updated_at: 1_700_000_000 + i,
    source: SOURCES[i % SOURCES.length] ?? null,
    ...overrides,
  };
}

export function stats(overrides: Partial<DashboardStats> = {}): DashboardStats {
  return {
    site: 'test',
    total_sensors: 300,
    total_power_kw: 1234.5,
    energy_kwh: 100,
    readings_total: 50_000,
    anomalies_total: 120,
    status_counts: { normal: 280, warning: 15, critical: 5 },
    active_anomalies: 20,
    top_failure_probabilities: [{ id: 'm00001-power-0', failure_probability: 0.93 }],
    last_reading_ts: 1_700_000_000,
    updated_at: 1_700_000_000,
    ...overrides,
  };
}

export function producer(connected = true): ProducerStatus {
  return {
    connected,
    last_heartbeat: 1_700_000_000,
    timeout_seconds: 10,
    producers: [
      {
        producer: 'simulator',
        ts: 1_700_000_000,
        received_at: 1_700_000_000,
        sensors: 300,
        readings_sent: 1000,
        rate: 300,
        age_seconds: 1,
        connected,
      },
    ],
  };
}

export function energyCost(overrides: Partial<EnergyCost> = {}): EnergyCost {
  return {
    site: 'test',
    timezone: 'Europe/Berlin',
    currency: 'EUR',
    per: 'day',
    from: 1_700_000_000,
    to: 1_700_030_000,
    buckets: [{ start: 1_700_000_000, end: 1_700_086_400, energy_kwh: 10, cost: 2 }],
    total_energy_kwh: 10,
    total_cost: 2,
    pricing: 'each quarter hour at its tariff price',
    ...overrides,
  };
}

/** A site forecast of `p50.length` steps of 15 min from `start`, its band 2 kW either side, issued at 1000. */
export function forecast({ start, p50 }: { start: number; p50: number[] }): Forecast {
  return {
    site: 'test',
    scope: 'site',
    id: 'site',
    unit: 'kW',
    issued_ts: 1000,
    step_s: 900,
    model: 'gbm_quantile',
    model_version: 'forecaster-v7', // a registry version, or local-<n> when the forecaster selected it itself
    backtest_mase: 0.612,
    yardstick_mase: 1.0,
    history_steps: 672,
    points: p50.map((v, i) => ({ ts: start + 900 * i, p10: v - 2, p50: v, p90: v + 2 })),
  };
}

export function actual(ts: number[], kw: number[]): ForecastActual {
  return {
    site: 'test',
    scope: 'site',
    id: 'site',
    unit: 'kW',
    step_s: 900,
    from: ts[0] ?? 0,
    to: (ts[ts.length - 1] ?? 0) + 900,
    points: ts.map((t, i) => ({ ts: t, kw: kw[i] ?? 0 })),
  };
}
