"""The seed design, rebuilt for comparison: one JSON message per reading, one model call and Redis writes each.

Run as `python -m tests.bench.seed_baseline` (pinned like the processor). It consumes the per-reading JSON topic
that prefill wrote from the same simulator data, and for every message, like the original design:
`json.loads`, one `IsolationForest.predict` call on that reading's features, then an `HSET` of the sensor's
latest state and a `PUBLISH` of the update (two round trips, no pipelining). Offsets are auto-committed.
The model is fitted before the clock starts, on healthy readings of the same data set.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import redis
from confluent_kafka import Consumer
from sklearn.ensemble import IsolationForest

from tests.bench.prefill import Prefilled, generator
from tests.bench.procs import Pinned
from tests.bench.stack import BenchStack


@dataclass(frozen=True)
class Baseline:
    """What the seed-style consumer achieved."""

    readings: int
    seconds: float
    readings_per_s: float
    cpu_seconds: float
    cpu_s_per_million: float
    predict_calls: int
    anomalies: int


def features(value: float, when: datetime) -> list[float]:
    """The seed's feature vector of one reading: value, hour of day, day of week."""
    return [value, when.hour + when.minute / 60.0, float(when.weekday())]


def training_rows(sensors: int, ticks: int = 5) -> list[list[float]]:
    """Feature rows of healthy readings from the same simulated site, to fit the seed's model."""
    gen = generator("seed-train", sensors)
    rows: list[list[float]] = []
    now = datetime.now()
    for _ in range(ticks):
        tick = gen.next_tick()
        healthy = np.flatnonzero(tick.labels < 0)[:2000]
        rows.extend(features(float(v), now) for v in tick.values[healthy])
    return rows


def consume(
    bootstrap: str, redis_url: str, topic: str, site: str, readings: int, sensors: int, timeout: float
) -> Baseline:
    """Drain `readings` messages the seed's way and time it."""
    model = IsolationForest(n_estimators=100, contamination=0.05, random_state=42)
    model.fit(np.asarray(training_rows(sensors)))
    r = redis.Redis.from_url(redis_url)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"seed-{site}-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    consumer.subscribe([topic])
    done = anomalies = 0
    started = cpu0 = 0.0
    deadline = time.monotonic() + timeout
    try:
        while done < readings and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            if done == 0:
                started, cpu0 = time.perf_counter(), time.process_time()
            data = json.loads(msg.value() or b"{}")
            when = datetime.fromisoformat(data["timestamp"])
            prediction = int(model.predict([features(float(data["value"]), when)])[0])
            is_anomaly = prediction == -1
            anomalies += int(is_anomaly)
            state = {**data, "is_anomaly": is_anomaly, "status": "warning" if is_anomaly else "normal"}
            r.hset(f"seed:{site}:sensor:{data['sensor_id']}", mapping={k: str(v) for k, v in state.items()})
            r.publish(f"seed:{site}:sensor_updates", json.dumps(state))
            done += 1
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    finally:
        consumer.close()
        r.close()
    if done < readings:
        raise TimeoutError(f"seed baseline processed only {done} of {readings} readings in {timeout:.0f}s")
    return Baseline(
        readings=done,
        seconds=round(seconds, 3),
        readings_per_s=round(done / seconds, 1),
        cpu_seconds=round(cpu, 3),
        cpu_s_per_million=round(cpu / done * 1e6, 1),
        predict_calls=done,
        anomalies=anomalies,
    )


def run(stack: BenchStack, filled: Prefilled, logdir: Path, timeout: float = 600.0) -> Baseline:
    """Run the seed-style consumer as its own process on the measured core and return its figures."""
    out = logdir / f"seed-{filled.site}.json"
    args = [
        "--bootstrap", stack.kafka.bootstrap,
        "--redis", stack.redis.url,
        "--topic", filled.seed_topic,
        "--site", filled.site,
        "--readings", str(filled.seed_readings),
        "--sensors", str(filled.sensors),
        "--timeout", str(timeout),
        "--out", str(out),
    ]  # fmt: skip
    proc = Pinned.module("tests.bench.seed_baseline", args, {}, logdir / f"seed-{filled.site}.log", stack.measured_cpu)
    code = proc.start().wait(timeout + 120)
    if code != 0:
        raise RuntimeError(f"seed baseline failed ({code}):\n{proc.log()[-3000:]}")
    return Baseline(**json.loads(out.read_text()))


def main() -> None:
    """Command line of the baseline process."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--redis", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--readings", type=int, required=True)
    p.add_argument("--sensors", type=int, required=True)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    result = consume(a.bootstrap, a.redis, a.topic, a.site, a.readings, a.sensors, a.timeout)
    a.out.write_text(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
