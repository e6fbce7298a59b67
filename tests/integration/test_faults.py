"""Faults of issue 12 on the real components: poison pills, corrupt state, broker stalls, crashes mid-batch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import httpx
import msgspec
import redis
from confluent_kafka import Consumer, Producer
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, ReadingBatch, SensorType, encode
from gridwatch.common.state import decode_state

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, free_port, wait_for


def reading_batch(site: str, seq: int, rows: list[tuple[str, SensorType, float, float]]) -> bytes:
    """One gateway batch of (sensor, type, ts, value) rows."""
    return encode(
        ReadingBatch(
            schema_version=SCHEMA_VERSION,
            site=site,
            gateway="fault-gw",
            seq=seq,
            sensor_ids=[r[0] for r in rows],
            machines=[r[0].split("-")[0] for r in rows],
            types=[r[1] for r in rows],
            ts=[r[2] for r in rows],
            values=[r[3] for r in rows],
        )
    )


def send(kafka: Kafka, topic: str, payloads: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
    for p in payloads:
        producer.produce(topic, p, b"fault-gw")
    assert producer.flush(30) == 0


def dead_letters(kafka: Kafka, topic: str, expected: int, timeout: float = 60) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"dlq-check-{time.time()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(100, 1.0):
                if msg.error() is None:
                    pairs = cast("list[tuple[str, bytes | None]]", msg.headers() or [])
                    headers = {k: v or b"" for k, v in pairs}
                    out.append((msg.value() or b"", headers))
    finally:
        consumer.close()
    return out


def all_states(client: redis.Redis, site: str) -> dict[str, dict[str, object]]:
    raw = cast("dict[bytes, bytes]", client.hgetall(Keys(site).sensors))
    return {k.decode(): msgspec.to_builtins(decode_state(v)) for k, v in raw.items()}


def test_poison_pills_are_dead_lettered_and_corrupt_state_is_reset(
    base_env: dict[str, str], postgres: Postgres, kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    """Issue 12.1: a 1e300 reading, two 1e308 power readings and a stored `baseline_std: null` take nothing down."""
    with connect(postgres.dsn, "test") as conn:
        migrate(conn)
    keys = Keys(site)
    api_port = free_port()
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn, "GRIDWATCH_ALERTS_EVAL_INTERVAL_S": "0.5"}
    # what the old processor left behind: a state the alert engine, the API and a restore could not decode
    corrupt = (
        b'{"id":"m9-power","machine":"m9","type":"power","unit":"kW","value":1.0,"ts":1.0,"score":0.0,'
        b'"anomaly":false,"failure_probability":0.0,"status":"critical","kind":"","readings":5,"anomalies":0,'
        b'"energy_kwh":0.0,"baseline_mean":1e300,"baseline_std":null,"hazard":0.0,"updated_at":1.0}'
    )
    redis_client.hset(keys.sensors, "m9-power", corrupt)
    redis_client.zadd(keys.index, {"m9-power": 0})
    redis_client.sadd(keys.status("critical"), "m9-power")
    proc = Workload("processor", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path).start()
    engine = Workload("alerts", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path).start()
    api = Workload("api", {**env, "GRIDWATCH_API_PORT": str(api_port)}, tmp_path).start()
    workloads = (proc, engine, api)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{api_port}/readyz").status_code == 200, 60, "api", logs=workloads)
        topic = f"{site}.readings"
        now = time.time()
        normal = [(f"m{i}-power", SensorType.POWER, now - 30 + t, 100.0 + t) for i in range(3) for t in range(5)]
        send(
            kafka,
            topic,
            [
                reading_batch(site, 0, normal),
                reading_batch(site, 1, [("m7-voltage", SensorType.VOLTAGE, now - 20, 1e300)]),
                reading_batch(
                    site,
                    2,
                    [("m8-power", SensorType.POWER, now - 20, 1e308), ("m8-power", SensorType.POWER, now - 19, 1e308)],
                ),
                reading_batch(
                    site, 3, [("m9-power", SensorType.POWER, now - 10, 50.0), ("m1-power", SensorType.POWER, now, 7.0)]
                ),
            ],
        )
        wait_for(
            lambda: all_states(redis_client, site).get("m1-power", {}).get("value") == 7.0,
            60,
            "the batch after the poison pills to be scored",
            logs=workloads,
        )
        letters = dead_letters(kafka, f"{site}.dlq", 2)
        reasons = sorted(h["gridwatch.dlq.reason"].decode() for _, h in letters)
        assert len(reasons) == 2, reasons
        assert reasons[0].startswith("implausible value: m7-voltage (voltage) = 1e+300"), reasons
        assert reasons[1].startswith("implausible value: m8-power (power) = 1e+308"), reasons
        states = all_states(redis_client, site)  # decode_state raises on anything non-finite or malformed
        assert "m7-voltage" not in states and "m8-power" not in states
        assert states["m9-power"]["readings"] == 1  # the corrupt record was reset and rewritten, not restored
        assert states["m9-power"]["baseline_mean"] == 50.0
        assert not redis_client.sismember(keys.status("critical"), "m9-power")
        energy = float(redis_client.hget(keys.aggregates, "energy_kwh") or 0)
        assert 0 < energy < 1.0
        time.sleep(2.0)  # several evaluation ticks of the alert engine over the state
        for path in ("/api/sensors?limit=100", "/api/sensors/m9-power", "/api/dashboard/stats"):
            assert httpx.get(f"http://127.0.0.1:{api_port}{path}").status_code == 200, path
        assert proc.alive() and engine.alive() and api.alive()
        assert "undecodable record in Redis" in proc.log()
    finally:
        for w in workloads:
            w.stop()
    assert "Traceback" not in engine.log(), engine.log()[-3000:]
    assert "Traceback" not in proc.log(), proc.log()[-3000:]


def test_api_and_alert_engine_survive_a_corrupt_state(
    base_env: dict[str, str], postgres: Postgres, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    """The readers alone, before any processor rewrites the record: report it, leave it out, keep serving."""
    with connect(postgres.dsn, "test") as conn:
        migrate(conn)
    keys = Keys(site)
    redis_client.hset(keys.sensors, "bad", b'{"id":"bad","baseline_std":null}')
    redis_client.zadd(keys.index, {"bad": 0})
    redis_client.hset(keys.producers, "p", b'{"producer":"p","ts":1.0,"received_at":null}')
    api_port = free_port()
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn, "GRIDWATCH_ALERTS_EVAL_INTERVAL_S": "0.3"}
    engine = Workload("alerts", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path).start()
    api = Workload("api", {**env, "GRIDWATCH_API_PORT": str(api_port)}, tmp_path).start()
    try:
        base = f"http://127.0.0.1:{api_port}"
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 60, "api", logs=(api,))
        assert httpx.get(f"{base}/api/sensors").json()["total"] == 1  # counted in the index, left out of the page
        assert httpx.get(f"{base}/api/sensors/bad").status_code == 404
        assert httpx.get(f"{base}/api/producer/status").status_code == 200
        wait_for(lambda: "undecodable record in Redis" in engine.log(), 30, "the engine to report it", logs=(engine,))
        time.sleep(1.0)
        assert engine.alive()
        metrics = httpx.get(f"{base}/metrics").text
        assert 'component="api",record="sensor"' in metrics and "gridwatch_state_corrupt_records_total" in metrics
    finally:
        engine.stop()
        api.stop()
