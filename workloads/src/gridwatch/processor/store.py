"""Redis writer for the processor: restores sensor state, writes one batch atomically, publishes updates."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import msgspec
import numpy as np
import redis

from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SENSOR_TYPES, UNITS, Alert
from gridwatch.common.state import ProducerBeat, SensorState, state_decoder, state_encoder
from gridwatch.processor.scoring import KINDS, STATUSES, BatchResult, SensorTable

_json = msgspec.json.Encoder()


@dataclass
class Pending:
    """Everything one batch writes to Redis."""

    states: list[SensorState] = field(default_factory=list)
    new_sensors: list[tuple[str, str]] = field(default_factory=list)
    status_moves: list[tuple[str, int, int]] = field(default_factory=list)
    beats: list[ProducerBeat] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    readings: int = 0
    anomalies: int = 0
    energy_kwh: float = 0.0
    power_kw: float = 0.0
    last_ts: float = 0.0


class StateStore:
    """Reads and writes one site's state in Redis."""

    def __init__(self, client: redis.Redis, site: str, ttl_seconds: int) -> None:
        self.client = client
        self.keys = Keys(site)
        self.ttl = ttl_seconds

    def restore(self, table: SensorTable, numbers: list[int]) -> None:
        """Load the stored state of newly seen sensors so replays are recognised and counts continue."""
        if not numbers:
            return
        raw = self.client.hmget(self.keys.sensors, [table.ids[n] for n in numbers])
        for n, blob in zip(numbers, raw, strict=True):
            if blob is None:
                continue
            st = state_decoder.decode(blob)
            table.last_ts[n] = st.ts
            table.last_value[n] = st.value
            table.count[n] = st.readings
            table.anomalies[n] = st.anomalies
            table.energy_kwh[n] = st.energy_kwh
            table.mean[n] = st.baseline_mean
            table.var[n] = st.baseline_std**2
            table.hazard[n] = st.hazard
            table.status[n] = STATUSES.index(st.status)

    def build(self, table: SensorTable, result: BatchResult, now: float) -> Pending:
        """Turn a scored batch into the writes it needs (latest reading per sensor)."""
        pending = Pending(readings=result.size, anomalies=int(result.anomaly.sum()))
        if result.size == 0:
            return pending
        pending.energy_kwh = float(result.energy_delta.sum())
        pending.power_kw = float(result.power_delta.sum())
        pending.last_ts = float(result.ts.max())
        sensor = result.sensor
        last = np.flatnonzero(np.r_[sensor[1:] != sensor[:-1], True])
        ids, machines = table.ids, table.machines
        for i in last.tolist():
            n = int(sensor[i])
            code = int(result.status[i])
            previous = int(table.status[n])
            if previous != code:
                pending.status_moves.append((ids[n], previous, code))
                table.status[n] = code
            sensor_type = SENSOR_TYPES[int(table.type_code[n])]
            pending.states.append(
                SensorState(
                    id=ids[n],
                    machine=machines[n],
                    type=sensor_type,
                    unit=UNITS[sensor_type],
                    value=float(result.value[i]),
                    ts=float(result.ts[i]),
                    score=round(float(result.score[i]), 4),
                    anomaly=bool(result.anomaly[i]),
                    failure_probability=round(float(result.probability[i]), 4),
                    status=STATUSES[code],
                    kind=KINDS[int(result.kind[i])],
                    readings=int(table.count[n]),
                    anomalies=int(table.anomalies[n]),
                    energy_kwh=float(table.energy_kwh[n]),
                    baseline_mean=float(table.mean[n]),
                    baseline_std=math.sqrt(float(table.var[n])),
                    hazard=float(table.hazard[n]),
                    updated_at=now,
                )
            )
        return pending

    def write(self, pending: Pending, live: dict[str, object]) -> None:
        """Write a batch in one MULTI/EXEC transaction and publish the live update."""
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        if pending.states:
            mapping = {s.id: state_encoder.encode(s) for s in pending.states}
            pipe.hset(k.sensors, mapping=mapping)  # type: ignore[arg-type]
            pipe.zadd(k.failure, {s.id: s.failure_probability for s in pending.states})
        for sid, old, new in pending.status_moves:
            if old >= 0:
                pipe.srem(k.status(STATUSES[old].value), sid)
            pipe.sadd(k.status(STATUSES[new].value), sid)
        if pending.new_sensors:
            pipe.zadd(k.index, dict.fromkeys((sid for sid, _ in pending.new_sensors), 0))
            by_type: dict[str, list[str]] = {}
            for sid, sensor_type in pending.new_sensors:
                by_type.setdefault(sensor_type, []).append(sid)
            for sensor_type, members in by_type.items():
                pipe.sadd(k.type(sensor_type), *members)
                pipe.expire(k.type(sensor_type), self.ttl)
        if pending.readings:
            pipe.hincrby(k.aggregates, "readings_total", pending.readings)
            pipe.hincrby(k.aggregates, "anomalies_total", pending.anomalies)
            pipe.hincrbyfloat(k.aggregates, "energy_kwh", pending.energy_kwh)
            pipe.hincrbyfloat(k.aggregates, "total_power_kw", pending.power_kw)
            pipe.hset(k.aggregates, mapping={"updated_at": time.time(), "last_reading_ts": pending.last_ts})
        for beat in pending.beats:
            pipe.hset(k.producers, beat.producer, _json.encode(beat))
        if pending.alerts:
            pipe.lpush(k.alerts, *[_json.encode(a) for a in pending.alerts])
            pipe.ltrim(k.alerts, 0, 999)
        for key in (
            k.sensors,
            k.failure,
            k.aggregates,
            k.producers,
            k.index,
            k.alerts,
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
