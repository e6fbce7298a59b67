// Live site state built from the WebSocket's events: stats, producer, a trend ring buffer, sensor changes.
import type {
  CriticalAlert,
  DashboardStats,
  LiveEvent,
  ProducerStatus,
  SensorChange,
  SensorState,
} from '@/lib/api/types';

/** Two hours of trend at the API's default 2 s push interval. */
export const MAX_TREND_POINTS = 3600;
export const MAX_ALERTS = 50;

export interface Trend {
  /** Epoch seconds. */
  ts: number[];
  powerKw: number[];
  /** Readings per second over the last push interval. */
  readingsRate: number[];
  activeAnomalies: number[];
}

export interface TimedChange extends SensorChange {
  ts: number;
}

export interface LiveState {
  stats: DashboardStats | null;
  producer: ProducerStatus | null;
  trend: Trend;
  /** Latest change per sensor id, from the update events. */
  changes: ReadonlyMap<string, TimedChange>;
  /** Sensors the snapshot carried (riskiest first). */
  snapshotSensors: SensorState[];
  alerts: CriticalAlert[];
  /** Last `error` event from the API (e.g. Redis down); cleared by the next update. */
  error: string | null;
  lastEventAt: number | null;
  updates: number;
}

export const EMPTY_TREND: Trend = { ts: [], powerKw: [], readingsRate: [], activeAnomalies: [] };

export function initialLiveState(): LiveState {
  return {
    stats: null,
    producer: null,
    trend: EMPTY_TREND,
    changes: new Map(),
    snapshotSensors: [],
    alerts: [],
    error: null,
    lastEventAt: null,
    updates: 0,
  };
}

function push(values: number[], value: number): number[] {
  const next = values.length >= MAX_TREND_POINTS ? values.slice(values.length - MAX_TREND_POINTS + 1) : values.slice();
  next.push(value);
  return next;
}

function appendTrend(trend: Trend, ts: number, stats: DashboardStats, readingsRate: number): Trend {
  const last = trend.ts[trend.ts.length - 1];
  if (last !== undefined && ts <= last) return trend;
  return {
    ts: push(trend.ts, ts),
    powerKw: push(trend.powerKw, stats.total_power_kw),
    readingsRate: push(trend.readingsRate, readingsRate),
    activeAnomalies: push(trend.activeAnomalies, stats.active_anomalies),
  };
}

/** Apply one event; returns the same object when nothing changed. */
export function reduceLive(state: LiveState, event: LiveEvent, now = Date.now() / 1000): LiveState {
  switch (event.type) {
    case 'snapshot': {
      const ts = event.ts ?? now;
      return {
        ...state,
        stats: event.stats,
        producer: event.producer,
        snapshotSensors: event.sensors,
        trend: appendTrend(state.trend, ts, event.stats, 0),
        error: null,
        lastEventAt: ts,
      };
    }
    case 'update': {
      const previous = state.trend.ts[state.trend.ts.length - 1];
      const interval = previous !== undefined && event.ts > previous ? event.ts - previous : 0;
      const rate = interval > 0 ? event.readings / interval : 0;
      let changes = state.changes;
      if (event.changed.length > 0) {
        const next = new Map(state.changes);
        for (const change of event.changed) next.set(change.id, { ...change, ts: event.ts });
        changes = next;
      }
      return {
        ...state,
        stats: event.stats,
        producer: event.producer,
        trend: appendTrend(state.trend, event.ts, event.stats, rate),
        changes,
        error: null,
        lastEventAt: event.ts,
        updates: state.updates + 1,
      };
    }
    case 'critical_alerts':
      return {
        ...state,
        alerts: [...event.alerts, ...state.alerts].slice(0, MAX_ALERTS),
        lastEventAt: event.ts ?? now,
      };
    case 'producer_connected':
    case 'producer_disconnected':
      return { ...state, producer: event.producer, lastEventAt: event.ts ?? now };
    case 'error':
      return { ...state, error: event.detail, lastEventAt: event.ts ?? now };
    default:
      return state;
  }
}

export function parseLiveEvent(data: string): LiveEvent | null {
  try {
    const parsed: unknown = JSON.parse(data);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { type?: unknown }).type === 'string') {
      return parsed as LiveEvent;
    }
  } catch {
    // ignore malformed frames
  }
  return null;
}

type Listener = () => void;

/** A tiny external store so components subscribe with useSyncExternalStore and re-render only on change. */
export class LiveStore {
  private state: LiveState = initialLiveState();
  private readonly listeners = new Set<Listener>();

  getState = (): LiveState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  dispatch(event: LiveEvent): void {
    const next = reduceLive(this.state, event);
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }
}

/** Merge a sensor's REST state with a newer live change, if any. */
export function withLiveChange(sensor: SensorState, change: TimedChange | undefined): SensorState {
  if (!change || change.ts <= sensor.updated_at) return sensor;
  return {
    ...sensor,
    status: change.status,
    value: change.value,
    failure_probability: change.failure_probability,
    kind: change.kind,
  };
}
