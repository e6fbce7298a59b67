// The live store folds WebSocket events into stats, a trend and per-sensor changes.
import { describe, expect, it } from 'vitest';

import {
  LiveStore,
  MAX_TREND_POINTS,
  initialLiveState,
  parseLiveEvent,
  reduceLive,
  withLiveChange,
} from '@/lib/live-store';
import { producer, sensor, stats } from '@/testing/factories';

describe('reduceLive', () => {
  it('starts the trend with the snapshot and appends every update', () => {
    let state = reduceLive(initialLiveState(), {
      type: 'snapshot',
      ts: 100,
      stats: stats(),
      producer: producer(),
      sensors: [],
    });
    expect(state.trend.ts).toEqual([100]);
    state = reduceLive(state, {
      type: 'update',
      ts: 102,
      stats: stats({ total_power_kw: 1300 }),
      producer: producer(),
      readings: 600,
      anomalies: 2,
      changed: [{ id: 's1', status: 'critical', value: 3, failure_probability: 0.9, kind: 'spike' }],
    });
    expect(state.trend.ts).toEqual([100, 102]);
    expect(state.trend.powerKw).toEqual([1234.5, 1300]);
    expect(state.trend.readingsRate[1]).toBe(300);
    expect(state.changes.get('s1')?.status).toBe('critical');
    expect(state.stats?.total_power_kw).toBe(1300);
  });

  it('caps the trend at MAX_TREND_POINTS', () => {
    let state = initialLiveState();
    for (let i = 0; i < MAX_TREND_POINTS + 10; i += 1) {
      state = reduceLive(state, {
        type: 'update',
        ts: i + 1,
        stats: stats(),
        producer: producer(),
        readings: 1,
        anomalies: 0,
        changed: [],
      });
    }
    expect(state.trend.ts).toHaveLength(MAX_TREND_POINTS);
    expect(state.trend.ts[0]).toBe(11);
  });

  it('tracks producer disconnects, critical alerts and API errors', () => {
    let state = reduceLive(initialLiveState(), { type: 'producer_disconnected', ts: 1, producer: producer(false) });
    expect(state.producer?.connected).toBe(false);
    state = reduceLive(state, {
      type: 'critical_alerts',
      ts: 1,
      alerts: [
        {
          msg: 'alert',
          schema_version: 1,
          site: 'local',
          sensor_id: 's1',
          machine: 'm1',
          type: 'power',
          ts: 1,
          severity: 'critical',
          kind: 'spike',
          score: 1,
          failure_probability: 0.9,
          value: 2,
          message: 'boom',
        },
      ],
    });
    expect(state.alerts).toHaveLength(1);
    state = reduceLive(state, { type: 'error', ts: 1, detail: 'Redis is unavailable' });
    expect(state.error).toBe('Redis is unavailable');
  });
});

describe('withLiveChange', () => {
  it('applies a change only when it is newer than the REST state', () => {
    const s = sensor(1, { updated_at: 100, status: 'normal' });
    const change = {
      id: s.id,
      status: 'critical' as const,
      value: 9,
      failure_probability: 0.8,
      kind: 'spike',
      ts: 101,
    };
    expect(withLiveChange(s, change).status).toBe('critical');
    expect(withLiveChange(s, { ...change, ts: 99 }).status).toBe('normal');
  });
});

describe('LiveStore', () => {
  it('notifies subscribers and ignores malformed frames', () => {
    const store = new LiveStore();
    let calls = 0;
    store.subscribe(() => {
      calls += 1;
    });
    const event = parseLiveEvent(JSON.stringify({ type: 'error', detail: 'x' }));
    expect(event).not.toBeNull();
    if (event) store.dispatch(event);
    expect(calls).toBe(1);
    expect(parseLiveEvent('not json')).toBeNull();
    expect(parseLiveEvent('{"no":"type"}')).toBeNull();
  });
});
