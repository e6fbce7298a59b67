"""Fill a real Kafka topic with simulator readings as fast as the producer takes them (no wall-clock pacing)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Producer
from gridwatch.common import kafka
from gridwatch.common.schema import UNITS, SensorType, encode
from gridwatch.simulator.generator import Generator
from gridwatch.simulator.settings import SimulatorSettings

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Prefilled:
    """What was written: the gateway-batch topic and the seed-style per-reading JSON topic."""

    site: str
    topic: str
    sensors: int
    ticks: int
    readings: int
    messages: int
    bytes: int
    seconds: float
    seed_topic: str
    seed_readings: int


def generator(site: str, sensors: int, seed: int = 11) -> Generator:
    """The simulator's generator for `sensors` sensors with a fixed seed and virtual start time."""
    settings = SimulatorSettings(site=site, sensors=sensors, seed=seed, start_time=START)
    return Generator(settings)


def seed_message(sensor_id: str, machine: str, sensor_type: SensorType, value: float, ts: float) -> bytes:
    """One reading the way the seed design sent it: its own JSON message."""
    return json.dumps(
        {
            "sensor_id": sensor_id,
            "machine_id": machine,
            "sensor_type": sensor_type,
            "value": value,
            "unit": UNITS[sensor_type],
            "timestamp": datetime.fromtimestamp(ts, UTC).isoformat(),
        }
    ).encode()


def prefill(
    bootstrap: str, site: str, sensors: int, ticks: int, partitions: int = 4, seed_readings: int = 0
) -> Prefilled:
    """Produce `ticks` ticks of `sensors` sensors to `<site>.readings` (and the first `seed_readings` as JSON)."""
    topic = f"{site}.readings"
    seed_topic = f"{site}.seed-readings"
    kinds = [f"{site}.{k}" for k in kafka.TOPIC_KINDS]
    kafka.ensure_topics(bootstrap, [*kinds, seed_topic], partitions)
    gen = generator(site, sensors)
    producer = Producer(kafka.producer_config(bootstrap, f"bench-prefill-{site}", **{"linger.ms": 20}))
    dt = gen.dt
    # in the past, starting on a UTC minute: the history phase's (sensor, minute) rows are then sensors × minutes
    # spanned in every run, not one more minute's worth depending on the second the run started at
    base = (time.time() - ticks * dt - 60.0) // 60 * 60
    started = time.perf_counter()
    messages = size = readings = seed_sent = 0
    for t in range(ticks):
        tick = gen.next_tick()
        ts = base + t * dt
        for gateway, batch in gen.batches(tick, ts):
            data = encode(batch)
            kafka.produce(producer, topic, data, gateway.encode())
            messages += 1
            size += len(data)
            readings += len(batch.sensor_ids)
            if seed_sent < seed_readings:
                rows = zip(batch.sensor_ids, batch.machines, batch.types, batch.values, strict=True)
                for sid, machine, sensor_type, value in rows:
                    if seed_sent >= seed_readings:
                        break
                    kafka.produce(
                        producer, seed_topic, seed_message(sid, machine, sensor_type, value, ts), sid.encode()
                    )
                    seed_sent += 1
    remaining = producer.flush(120)
    if remaining:
        raise RuntimeError(f"prefill: {remaining} messages not delivered")
    return Prefilled(
        site, topic, sensors, ticks, readings, messages, size, time.perf_counter() - started, seed_topic, seed_sent
    )
