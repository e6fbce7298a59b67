"""`gridwatch forecaster` on real Kafka, Redis and PostgreSQL: history rows in, Forecast messages and Redis out."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import msgspec
import numpy as np
import pytest
import redis
from confluent_kafka import Consumer
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.schema import Forecast, decode_forecast
from gridwatch.history import partitions

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, free_port, wait_for

pytestmark = pytest.mark.integration
STEP = 900.0
DAYS = 9
MACHINES = ("m00000", "m00001", "m00002")


def load_kw(t: float, k: int) -> float:
    """A machine's kW with a daily shape: what the forecasts must follow."""
    hour = (t % 86_400) / 3600.0
    return (50.0 + 20.0 * k) * (1.0 + 0.3 * math.sin(2 * math.pi * (hour - 8.0) / 24.0))


def seed_history(dsn: str, site: str, now: float) -> None:
    """One rollup row per machine and step for the last DAYS days, as the history writer would leave them."""
    end = math.floor(now / STEP) * STEP
    steps = np.arange(end - DAYS * 86_400, end, STEP)
    with connect(dsn, "test") as conn:
        migrate(conn)
        if partitions.storage_kind(conn) == "partitioned":
            partitions.ensure_days(
                conn,
                {partitions.day_of(t) for t in (steps[0], steps[-1])}
                | set(range(partitions.day_of(steps[0]), partitions.day_of(steps[-1]) + 1)),
            )
        per_sensor, per_type = [], []
        for t in steps:
            kws = [load_kw(t, k) for k in range(len(MACHINES))]
            minute = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(t))
            for m, kw in zip(MACHINES, kws, strict=True):
                per_sensor.append((site, f"{m}-power", "power", minute, 1, 0, kw, kw, kw, t, kw, t, kw))
            per_type.append((site, "power", minute, len(kws), len(kws), 0, sum(kws), min(kws), max(kws), 0.0))
        with conn.cursor() as cur, conn.transaction():
            cur.executemany(
                "INSERT INTO gw_history_minute (site, sensor_id, sensor_type, minute, readings, anomalies, value_sum,"
                " value_min, value_max, first_ts, first_value, last_ts, last_value)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                per_sensor,
            )
            cur.executemany(
                "INSERT INTO gw_history_type_minute (site, sensor_type, minute, sensors, readings, anomalies,"
                " value_sum, value_min, value_max, energy_kwh) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                per_type,
            )


def read_forecasts(kafka: Kafka, topic: str, want: int, timeout: float) -> dict[str, Forecast]:
    """The latest Forecast per key on the topic, once `want` keys were seen."""
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"t-{time.time()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    seen: dict[str, Forecast] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            seen[(msg.key() or b"").decode()] = decode_forecast(msg.value() or b"")
    finally:
        consumer.close()
    return seen


def test_forecaster_publishes_site_and_machine_forecasts(
    base_env: dict[str, str], postgres: Postgres, kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    now = time.time()
    seed_history(postgres.dsn, site, now)
    port = free_port()
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_METRICS_PORT": str(port),
        "GRIDWATCH_ANALYTICS_FORECAST_HORIZON_MINUTES": "360",
        "GRIDWATCH_FORECAST_BACKTEST_FOLDS": "2",
    }
    api_port = free_port()
    forecaster = Workload("forecaster", env, tmp_path).start()
    api = Workload(
        "api", {**env, "GRIDWATCH_API_PORT": str(api_port), "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path
    )
    api.start()
    try:
        got = read_forecasts(kafka, f"{site}.forecasts", 1 + len(MACHINES), 180)
        assert set(got) == {"site:site", *(f"machine:{m}" for m in MACHINES)}, forecaster.log()[-3000:]
        end = math.floor(now / STEP) * STEP
        for key, f in got.items():
            assert f.site == site
            assert len(f.p50) == 24  # 360 minutes at 15 min
            assert f.step_s == STEP
            assert f.start_ts == end
            assert f.model and f.model_version.startswith("local-")
            assert all(lo <= mid <= hi for lo, mid, hi in zip(f.p10, f.p50, f.p90, strict=True))
            k = MACHINES.index(f.id) if f.scope == "machine" else -1
            truth = [
                load_kw(f.start_ts + i * STEP, k)
                if k >= 0
                else sum(load_kw(f.start_ts + i * STEP, j) for j in range(3))
                for i in range(24)
            ]
            error = np.abs(np.array(f.p50) - np.array(truth)).mean() / np.mean(truth)
            assert error < 0.05, (key, f.model, error)
        # The forecaster writes Redis after Kafka acknowledged the step, so a consumer can see the messages first.
        key = f"gw:{site}:forecasts"
        wait_for(lambda: redis_client.hlen(key) >= len(got), 30, "forecasts in Redis", logs=(forecaster,))
        stored: dict[bytes, bytes] = redis_client.hgetall(key)  # type: ignore[assignment]
        assert {k.decode() for k in stored} == set(got)
        latest = msgspec.json.decode(stored[b"site:site"], type=Forecast)
        assert latest.p50 == got["site:site"].p50
        base = f"http://127.0.0.1:{api_port}/api/v1/forecast"
        wait_for(lambda: httpx.get(base).status_code == 200, 60, "the API serves the forecast", logs=(api,))
        served = httpx.get(base, params={"scope": "site", "horizon": 60}).json()
        assert served["model"] == got["site:site"].model
        assert served["model_version"] == got["site:site"].model_version
        assert [p["p50"] for p in served["points"]] == got["site:site"].p50[:4]
        assert served["points"][1]["ts"] - served["points"][0]["ts"] == STEP
        machine = httpx.get(base, params={"scope": "machine", "id": MACHINES[1]}).json()
        assert len(machine["points"]) == 24 and machine["id"] == MACHINES[1]
        assert httpx.get(base, params={"scope": "machine", "id": "nope"}).status_code == 404
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, 30, "forecaster ready")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "gridwatch_forecaster_runs_total{" in text
        assert 'gridwatch_forecaster_model_info{component="forecaster"' in text
    finally:
        api.stop()
        code = forecaster.stop()
    assert code == 0, forecaster.log()[-3000:]
