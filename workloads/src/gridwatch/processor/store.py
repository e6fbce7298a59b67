"""Redis writer for the processor: restores sensor state, writes one batch atomically, publishes updates."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import msgspec
import numpy as np
import redis
import structlog

from gridwatch.common.live import LiveBatch
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import READING_SOURCES, SENSOR_TYPES, UNITS, Alert, ReadingSource
from gridwatch.common.scoring import CHECKPOINT_READINGS, KINDS, NO_ALARM, STATUSES, BatchResult, SensorTable
from gridwatch.common.state import (
    CORRUPT,
    CorruptRecord,
    ProducerBeat,
    SensorState,
    decode_state,
    report_corrupt,
    state_encoder,
)

_json = msgspec.json.Encoder()
# Applied at most once per batch token (KEYS[1]): the site's counters (KEYS[2]).
_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'readings_total', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'anomalies_total', ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[2], 'energy_kwh', ARGV[4])
redis.call('HINCRBYFLOAT', KEYS[2], 'total_power_kw', ARGV[5])
return 1
"""
log = structlog.get_logger(__name__)
_UNIT_OF_CODE: tuple[str, ...] = tuple(UNITS[t] for t in SENSOR_TYPES)
_SOURCE_OF_CODE: tuple[ReadingSource | None, ...] = (*READING_SOURCES, None)  # code -1 (unknown) is the last


class _State(SensorState, gc=False):
    """A SensorState the garbage collector does not track (scalar fields cannot form cycles).

    A batch builds one per sensor; tracked, 100k of them made every collection walk them all.
    """


def _json_records(states: list[SensorState]) -> list[bytes]:
    """One JSON document per state, encoded in a single call (JSON lines never hold a raw newline)."""
    return state_encoder.encode_lines(states).split(b"\n")[:-1]


def _interleave(first: Sequence[str], second: Sequence[bytes]) -> list[str | bytes]:
    """[a0, b0, a1, b1, ...], the flat argument list of HSET."""
    out: list[str | bytes] = [b""] * (2 * len(first))
    out[0::2] = first
    out[1::2] = second
    return out


@dataclass
class Pending:
    """Everything one batch writes to Redis."""

    states: list[SensorState] = field(default_factory=list)
    new_sensors: list[tuple[str, str]] = field(default_factory=list)
    status_moves: list[tuple[str, int, int]] = field(default_factory=list)
    beats: list[ProducerBeat] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    reset_ids: list[str] = field(default_factory=list)  # sensors whose state was reset: out of every status set
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # makes the batch's increments apply once
    failure_ids: list[str] = field(default_factory=list)
    failure_scores: list[float] = field(default_factory=list)
    model_ids: list[str] = field(default_factory=list)  # sensors whose detector state is checkpointed
    model_blobs: list[bytes] = field(default_factory=list)
    readings: int = 0
    anomalies: int = 0
    energy_kwh: float = 0.0
    power_kw: float = 0.0
    last_ts: float = 0.0


def guard_finite(table: SensorTable, result: BatchResult, site: str) -> list[str]:
    """Last line of defence for the finite-arithmetic invariant: a scored sensor whose state or output is not
    finite is reported and reset (every float state array from scratch, count 0), so nothing non-finite reaches
    Redis or Kafka. Validation's physical limits keep inputs small enough that this should never fire.
    """
    s = result.sensor
    outputs = [c for c in vars(result).values() if isinstance(c, np.ndarray) and c.dtype.kind == "f"]
    states = {
        name: a
        for name, a in vars(table).items()
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.ndim == 1 and name != "stored_probability"
    }
    bad_rows = np.zeros(s.size, dtype=bool)
    for c in [*outputs, *(a[s] for a in states.values())]:
        bad_rows |= ~np.isfinite(c)
    if not bad_rows.any():
        return []
    for c in outputs:
        c[~np.isfinite(c)] = 0.0
    sensors = np.unique(s[bad_rows])
    for name, a in states.items():
        keep = name in ("energy_kwh", "last_ts")  # the sensor's totals and replay watermark survive if finite
        a[sensors] = np.where(np.isfinite(a[sensors]), a[sensors], 0.0) if keep else 0.0
    for name in ("count", "anomaly_run", "stuck_run", "episode_kind", "evident_run"):
        if isinstance(getattr(table, name, None), np.ndarray):
            getattr(table, name)[sensors] = 0
    table.since_alarm[sensors] = NO_ALARM  # the next alarm is a new one
    table.status[sensors] = -1  # rejoins its status set in this batch's write
    table.stored_probability[sensors] = np.nan
    ids = [table.ids[n] for n in sensors.tolist()]
    CORRUPT.labels(site=site, component="processor", record="scored").inc(len(ids))
    log.error("non-finite scoring state; sensors reset", sensors=ids[:20], count=len(ids))
    return ids


class StateStore:
    """Reads and writes one site's state in Redis."""

    def __init__(self, client: redis.Redis, site: str, ttl_seconds: int) -> None:
        self.client = client
        self.keys = Keys(site)
        self.ttl = ttl_seconds

    def restore(self, table: SensorTable, numbers: list[int]) -> list[str]:
        """Load the stored state of newly seen sensors so replays are recognised and counts continue.

        A stored state that does not decode (or holds a non-finite number) is reported and the sensor starts
        afresh; its id is returned so the batch's write also takes it out of every status set.
        """
        if not numbers:
            return []
        reset: list[str] = []
        restored: list[int] = []
        raw = self.client.hmget(self.keys.sensors, [table.ids[n] for n in numbers])
        for n, blob in zip(numbers, raw, strict=True):
            if blob is None:
                continue
            try:
                st = decode_state(blob)
            except CorruptRecord as exc:
                report_corrupt(self.keys.site, "processor", "sensor", table.ids[n], exc)
                reset.append(table.ids[n])
                continue
            table.last_ts[n] = st.ts
            table.last_value[n] = st.value
            table.count[n] = st.readings
            table.anomalies[n] = st.anomalies
            table.energy_kwh[n] = st.energy_kwh
            table.mean[n] = st.baseline_mean
            table.var[n] = st.baseline_std**2
            table.hazard[n] = st.hazard
            table.status[n] = STATUSES.index(st.status)
            restored.append(n)
        if restored:
            # the detector's own state (profile, tails, cadence ...) continues where the last checkpoint left it
            models = self.client.hmget(self.keys.model, [table.ids[n] for n in restored])
            for n, model in zip(restored, models, strict=True):
                if isinstance(model, bytes):
                    table.load_model(n, model)
        return reset

    def build(self, table: SensorTable, result: BatchResult, now: float) -> Pending:
        """Turn a scored batch into the writes it needs (latest reading per sensor).

        Column-wise: every field is gathered with one numpy take and one `tolist`, and the records are built by
        one `map` over the columns, so no Python code runs per reading and little runs per sensor.
        """
        pending = Pending(readings=result.size, anomalies=int(result.anomaly.sum()))
        if result.size == 0:
            return pending
        pending.reset_ids = guard_finite(table, result, self.keys.site)
        pending.energy_kwh = float(result.energy_delta.sum())
        pending.power_kw = float(result.power_delta.sum())
        pending.last_ts = float(result.ts.max())
        sensor = result.sensor
        last = np.flatnonzero(np.r_[sensor[1:] != sensor[:-1], True])
        rows = sensor[last]
        ids = list(map(table.ids.__getitem__, rows.tolist()))
        codes = result.status[last]
        previous = table.status[rows]
        moved = np.flatnonzero(previous != codes)
        if moved.size:
            pending.status_moves = list(
                zip(
                    [ids[i] for i in moved.tolist()],
                    previous[moved].tolist(),
                    codes[moved].tolist(),
                    strict=True,
                )
            )
            table.status[rows[moved]] = codes[moved]
        probability = result.probability[last].round(4)
        changed = np.flatnonzero(~(probability == table.stored_probability[rows]))  # NaN: never written
        if changed.size:
            pending.failure_ids = [ids[i] for i in changed.tolist()]
            pending.failure_scores = probability[changed].tolist()
            table.stored_probability[rows[changed]] = probability[changed]
        due = rows[table.count[rows] - table.model_saved[rows] >= CHECKPOINT_READINGS]
        if due.size:
            pending.model_ids = list(map(table.ids.__getitem__, due.tolist()))
            pending.model_blobs = table.model_rows(due)
            table.model_saved[due] = table.count[due]
        type_codes = table.type_code[rows].tolist()
        pending.states = list(
            map(
                _State,
                ids,
                map(table.machines.__getitem__, rows.tolist()),
                map(SENSOR_TYPES.__getitem__, type_codes),
                map(_UNIT_OF_CODE.__getitem__, type_codes),
                result.value[last].tolist(),
                result.ts[last].tolist(),
                result.score[last].round(4).tolist(),
                result.anomaly[last].tolist(),
                probability.tolist(),
                map(STATUSES.__getitem__, codes.tolist()),
                map(KINDS.__getitem__, result.kind[last].tolist()),
                table.count[rows].tolist(),
                table.anomalies[rows].tolist(),
                table.energy_kwh[rows].tolist(),
                table.mean[rows].tolist(),
                np.sqrt(table.var[rows]).tolist(),
                table.hazard[rows].tolist(),
                repeat(now),
                map(_SOURCE_OF_CODE.__getitem__, table.source_code[rows].tolist()),
            )
        )
        return pending

    def write(self, pending: Pending, live: LiveBatch) -> None:
        """Write a batch in one MULTI/EXEC transaction and publish the live update."""
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        if pending.states:
            pipe.hset(k.sensors, items=_interleave([s.id for s in pending.states], _json_records(pending.states)))
        if pending.failure_ids:
            # only scores that changed: ZADD of an unchanged score is a no-op, and most sensors sit at 0
            pipe.zadd(k.failure, dict(zip(pending.failure_ids, pending.failure_scores, strict=True)))
        if pending.model_ids:
            pipe.hset(k.model, items=_interleave(pending.model_ids, pending.model_blobs))
        if pending.reset_ids:
            for st in STATUSES:
                pipe.srem(k.status(st.value), *pending.reset_ids)
        leaving: dict[int, list[str]] = {}
        joining: dict[int, list[str]] = {}
        for sid, old, new in pending.status_moves:
            if old >= 0:
                leaving.setdefault(old, []).append(sid)
            joining.setdefault(new, []).append(sid)
        for old, members in leaving.items():
            pipe.srem(k.status(STATUSES[old].value), *members)
        for new, members in joining.items():
            pipe.sadd(k.status(STATUSES[new].value), *members)
        if pending.new_sensors:
            pipe.zadd(k.index, dict.fromkeys((sid for sid, _ in pending.new_sensors), 0))
            by_type: dict[str, list[str]] = {}
            for sid, sensor_type in pending.new_sensors:
                by_type.setdefault(sensor_type, []).append(sid)
            for sensor_type, members in by_type.items():
                pipe.sadd(k.type(sensor_type), *members)
                pipe.expire(k.type(sensor_type), self.ttl)
        if pending.readings:
            # the increments are applied once per batch even when a write that timed out (Redis stalled)
            # was executed later anyway and the retry sends it again: guarded by the batch's token
            pipe.eval(
                _ONCE,
                2,
                f"{k.aggregates}:applied:{pending.token}",
                k.aggregates,
                min(self.ttl, 600),  # a write that timed out runs within minutes of the stall, if at all
                pending.readings,
                pending.anomalies,
                repr(pending.energy_kwh),
                repr(pending.power_kw),
            )
        if pending.readings:
            pipe.hset(k.aggregates, mapping={"updated_at": time.time(), "last_reading_ts": pending.last_ts})
        for beat in pending.beats:
            pipe.hset(k.producers, beat.producer, _json.encode(beat))
        for key in (
            k.sensors,
            k.model,
            k.failure,
            k.aggregates,
            k.producers,
            k.index,
            *(k.status(st.value) for st in STATUSES),
        ):
            pipe.expire(key, self.ttl)
        pipe.publish(k.channel, _json.encode(live))
        pipe.execute()

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False
