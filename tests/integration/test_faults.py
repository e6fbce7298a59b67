"""Faults of issue 12 on the real components: poison pills, corrupt state, broker stalls, crashes mid-batch."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import cast

import httpx
import msgspec
import psycopg
import pytest
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
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{api_port}/readyz").status_code == 200, 180, "api", logs=workloads
        )
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
            180,
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
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 180, "api", logs=(api,))
        assert httpx.get(f"{base}/api/sensors").json()["total"] == 1  # counted in the index, left out of the page
        assert httpx.get(f"{base}/api/sensors/bad").status_code == 404
        assert httpx.get(f"{base}/api/producer/status").status_code == 200
        wait_for(lambda: "undecodable record in Redis" in engine.log(), 180, "the engine to report it", logs=(engine,))
        time.sleep(1.0)
        assert engine.alive()
        metrics = httpx.get(f"{base}/metrics").text
        assert 'component="api",record="sensor"' in metrics and "gridwatch_state_corrupt_records_total" in metrics
    finally:
        engine.stop()
        api.stop()


def readings_total(client: redis.Redis, site: str) -> int:
    return int(client.hget(Keys(site).aggregates, "readings_total") or 0)


def probe(port: int, path: str = "/readyz") -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def test_processor_is_not_ready_during_a_broker_stall_and_recovers_after(
    base_env: dict[str, str], kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    """Issue 12.2: SIGSTOP the broker for 20 s; the processor's /readyz is not 200 while stalled, and afterwards it
    rejoins its group, or exits non-zero so that its supervisor restarts it."""
    port = free_port()
    env = {**base_env, "GRIDWATCH_METRICS_PORT": str(port), "GRIDWATCH_CONSUMER_MAX_LOST_S": "40"}
    proc = Workload("processor", env, tmp_path).start()
    sim_env = {
        **base_env,
        "GRIDWATCH_METRICS_PORT": str(free_port()),
        "GRIDWATCH_SIM_SENSORS": "60",
        "GRIDWATCH_SIM_RATE": "120",
    }
    sim = Workload("simulator", sim_env, tmp_path).start()
    assert kafka.pid is not None
    restarted = False
    try:
        wait_for(lambda: readings_total(redis_client, site) > 500, 240, "readings to flow", logs=(proc, sim))
        wait_for(lambda: probe(port) == 200, 60, "processor ready", logs=(proc,))
        os.kill(kafka.pid, signal.SIGSTOP)
        codes: list[int] = []
        try:
            stalled_at = time.monotonic()
            while time.monotonic() - stalled_at < 20:
                codes.append(probe(port))
                time.sleep(0.5)
        finally:
            os.kill(kafka.pid, signal.SIGCONT)
        assert any(c not in (0, 200) for c in codes), f"/readyz during the stall: {codes}"
        resumed = readings_total(redis_client, site)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if not proc.alive():
                rc = proc.wait()
                assert rc != 0, "a processor that gave up must exit non-zero"
                proc = Workload("processor", env, tmp_path).start()  # what make up / Kubernetes do
                restarted = True
            if readings_total(redis_client, site) > resumed + 500 and probe(port) == 200:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"processor did not recover (restarted={restarted})\n{proc.log()[-4000:]}")
    finally:
        os.kill(kafka.pid, signal.SIGCONT)
        sim.stop()
        proc.stop()


def history_counts(dsn: str, site: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT sensor_id, sum(readings) FROM gw_history_minute WHERE site = %s GROUP BY 1", (site,)
        ).fetchall()
    return {str(s): int(n) for s, n in rows}


def history_energy(dsn: str, site: str) -> float:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(sum(energy_kwh), 0) FROM gw_history_minute WHERE site = %s", (site,))
        return float(row.fetchone()[0])  # type: ignore[index]


CRASH_SENSORS = 24
MAX_TICKS = 20_000  # a bound only: the stream stops once every crash happened (a loaded machine restarts slowly)


def test_crashes_at_every_step_boundary_lose_and_duplicate_nothing(
    base_env: dict[str, str], postgres: Postgres, kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    """Issue 12.3: SIGKILL the processor at each step of its loop (consumed, handled = published not flushed,
    delivered = before Redis, finished = after Redis before commit, committed) and the history writer after its
    write and after its commit, while readings stream in: history holds every produced reading exactly once and
    its energy equals the processor's in Redis."""
    with connect(postgres.dsn, "test") as conn:
        migrate(conn)
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn, "GRIDWATCH_HISTORY_FLUSH_INTERVAL_S": "0.2"}
    proc_env = {**env, "GRIDWATCH_METRICS_PORT": str(free_port()), "GRIDWATCH_PROC_BATCH_MAX_MESSAGES": "3"}
    hist_env = {**env, "GRIDWATCH_METRICS_PORT": str(free_port()), "GRIDWATCH_HISTORY_BATCH_MAX_MESSAGES": "4"}
    processor_crashes = ["consumed", "handled", "delivered", "finished", "committed"]
    history_crashes = ["handled", "committed"]

    def crashing(base: dict[str, str], step: str) -> dict[str, str]:
        return {**base, "GRIDWATCH_FAULT_CRASH_AT": step, "GRIDWATCH_FAULT_CRASH_AFTER": "3"}

    plan = {"processor": (processor_crashes, proc_env), "history": (history_crashes, hist_env)}
    running = {
        name: Workload(name, crashing(base, steps.pop(0)), tmp_path).start() for name, (steps, base) in plan.items()
    }
    crashes = {"processor": 0, "history": 0}

    def restart_dead() -> bool:
        """Restart a crashed workload (crashing at its next step, if any left), as a supervisor would."""
        for name, (steps, base) in plan.items():
            w = running[name]
            if not w.alive():
                assert w.wait() == -signal.SIGKILL, w.log()[-3000:]  # only injected crashes
                crashes[name] += 1
                running[name] = Workload(name, crashing(base, steps.pop(0)) if steps else base, tmp_path).start()
        return not any("GRIDWATCH_FAULT_CRASH_AT" in w.env for w in running.values())

    topic = f"{site}.readings"
    t0 = time.time() - MAX_TICKS - 60
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
    ticks = 0
    try:
        # stream until every crash happened (each needs a few batches after its workload's restart)
        while (not restart_dead() or ticks < 100) and ticks < MAX_TICKS:
            rows = [(f"m{i}-power", SensorType.POWER, t0 + ticks, 50.0 + i + (ticks % 7)) for i in range(CRASH_SENSORS)]
            producer.produce(topic, reading_batch(site, ticks, rows), b"fault-gw")
            producer.poll(0)
            ticks += 1
            time.sleep(0.05)
        expected = {f"m{i}-power": ticks for i in range(CRASH_SENSORS)}
        assert producer.flush(30) == 0
        wait_for(
            lambda: history_counts(postgres.dsn, site) == expected,
            300,
            "history to settle",
            interval=0.5,
            logs=tuple(running.values()),
        )
        time.sleep(3)  # anything still to come (a duplicate) would arrive now
        assert history_counts(postgres.dsn, site) == expected
        assert readings_total(redis_client, site) == CRASH_SENSORS * ticks
        redis_energy = float(redis_client.hget(Keys(site).aggregates, "energy_kwh") or 0)
        assert history_energy(postgres.dsn, site) == pytest.approx(redis_energy, rel=1e-9)
        assert crashes == {"processor": 5, "history": 2}, crashes
    finally:
        for w in running.values():
            w.stop()
