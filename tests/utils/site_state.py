"""Factories that write a site's live state into a real Redis in the processor's layout (common.rediskeys)."""

from __future__ import annotations

import time

import msgspec
import redis
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SensorType, Status
from gridwatch.common.state import ProducerBeat, SensorState

TYPES = list(SensorType)
UNITS = {"power": "kW", "current": "A", "voltage": "V", "temperature": "C", "pressure": "bar", "vibration": "mm/s"}


def sensor_state(i: int, now: float) -> SensorState:
    """A plausible state for sensor number i (every 10th warning, every 50th critical)."""
    sensor_type = TYPES[i % len(TYPES)]
    status = Status.CRITICAL if i % 50 == 0 else Status.WARNING if i % 10 == 0 else Status.NORMAL
    fp = 0.9 if status is Status.CRITICAL else 0.4 if status is Status.WARNING else 0.01
    return SensorState(
        id=f"s{i:05d}",
        machine=f"m{i // 6:04d}",
        type=sensor_type,
        unit=UNITS[sensor_type.value],
        value=10.0 + i % 7,
        ts=now,
        score=0.1,
        anomaly=status is not Status.NORMAL,
        failure_probability=fp,
        status=status,
        kind="none",
        readings=100,
        anomalies=1 if status is not Status.NORMAL else 0,
        energy_kwh=1.5,
        baseline_mean=10.0,
        baseline_std=1.0,
        hazard=0.01,
        updated_at=now,
    )


def seed_site(client: redis.Redis, site: str, sensors: int) -> list[SensorState]:
    """Write `sensors` sensor states, the status/type sets, failure ranking, aggregates and one producer beat."""
    k = Keys(site)
    now = time.time()
    states = [sensor_state(i, now) for i in range(sensors)]
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(states), 1000):
        chunk = states[start : start + 1000]
        pipe.hset(k.sensors, mapping={s.id: msgspec.json.encode(s) for s in chunk})
        pipe.zadd(k.index, {s.id: 0 for s in chunk})
        pipe.zadd(k.failure, {s.id: s.failure_probability for s in chunk})
        for s in chunk:
            pipe.sadd(k.status(s.status.value), s.id)
            pipe.sadd(k.type(s.type.value), s.id)
    pipe.hset(
        k.aggregates,
        mapping={
            "total_power_kw": 123.4,
            "energy_kwh": 56.7,
            "readings_total": sensors * 100,
            "anomalies_total": 12,
            "updated_at": now,
            "last_reading_ts": now,
        },
    )
    beat = ProducerBeat(producer="sim-0", ts=now, received_at=now, sensors=sensors, readings_sent=1000, rate=50.0)
    pipe.hset(k.producers, beat.producer, msgspec.json.encode(beat))
    pipe.execute()
    return states
