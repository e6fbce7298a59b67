"""Suggestions from live Redis state and PostgreSQL history through the real API; 503 without PostgreSQL."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, UNITS, EnrichedBatch, SensorType, Status
from gridwatch.common.state import SensorState, state_encoder
from gridwatch.history import partitions
from gridwatch.history.store import HistoryStore, Record

from tests.infra.services import Postgres
from tests.utils.workloads import Workload, free_port, wait_for

HOURS = 6


def state(sid: str, machine: str, sensor_type: SensorType, value: float, fp: float) -> bytes:
    now = time.time()
    return state_encoder.encode(
        SensorState(
            id=sid, machine=machine, type=sensor_type, unit=UNITS[sensor_type], value=value, ts=now, score=0.1,
            anomaly=False, failure_probability=fp, status=Status.WARNING if fp > 0.3 else Status.NORMAL, kind="",
            readings=360, anomalies=0, energy_kwh=0.0, baseline_mean=value, baseline_std=1.0, hazard=0.0,
            updated_at=now,
        )
    )  # fmt: skip


def series(site: str, sid: str, sensor_type: SensorType, ts: list[float], values: list[float]) -> EnrichedBatch:
    n = len(ts)
    # the processor's rule: each power reading adds its value over the time since the previous one (at most 300 s)
    energy = [0.0] + [v * min(t - p, 300.0) / 3600.0 for p, t, v in zip(ts, ts[1:], values[1:], strict=False)]
    return EnrichedBatch(
        schema_version=SCHEMA_VERSION, site=site, sensor_ids=[sid] * n, types=[sensor_type] * n, ts=ts,
        values=values, score=[0.1] * n, anomaly=[False] * n, failure_probability=[0.05] * n,
        status=[Status.NORMAL] * n, label=[""] * n,
        energy_kwh=energy if sensor_type is SensorType.POWER else [0.0] * n,
    )  # fmt: skip


def test_suggestions_from_live_state_and_history(
    base_env: dict[str, str], redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    pg = Postgres(tmp_path / "pg").start()  # its own server: the test stops it at the end
    now = time.time()
    start = math.floor((now - HOURS * 3600) / 60) * 60
    ts = [start + 60.0 * k for k in range(HOURS * 60)]
    recent = now - 2 * 3600
    kw = {
        "m1": [100.0 if t >= recent else 20.0 for t in ts],  # peaky: its flexible load sits in the peak
        "m2": [50.0] * len(ts),
        "m3": [50.0] * len(ts),
        "m4": [80.0] * len(ts),  # 60 % more power than its peers for the same pressure
    }
    keys = Keys(site)
    records: list[Record] = []
    for i, (machine, values) in enumerate(kw.items()):
        records.append(Record(2 * i, 0, series(site, f"{machine}-power", SensorType.POWER, ts, values)))
        records.append(
            Record(2 * i + 1, 0, series(site, f"{machine}-pressure", SensorType.PRESSURE, ts, [5.0] * len(ts)))
        )
        redis_client.hset(
            keys.sensors, f"{machine}-power", state(f"{machine}-power", machine, SensorType.POWER, values[-1], 0.05)
        )
        redis_client.hset(
            keys.sensors, f"{machine}-pressure", state(f"{machine}-pressure", machine, SensorType.PRESSURE, 5.0, 0.05)
        )
        redis_client.zadd(keys.index, {f"{machine}-power": 0, f"{machine}-pressure": 0})
    redis_client.hset(keys.sensors, "m2-vibration", state("m2-vibration", "m2", SensorType.VIBRATION, 9.0, 0.9))
    redis_client.zadd(keys.index, {"m2-vibration": 0})
    with connect(pg.dsn, "test") as conn:
        migrate(conn)
        if partitions.storage_kind(conn) == "partitioned":
            partitions.ensure_days(conn, {partitions.day_of(ts[0]), partitions.day_of(ts[-1])})
        assert HistoryStore(conn, site).write(f"{site}.enriched", records).readings == 8 * len(ts)

    hour = time.gmtime(now).tm_hour
    periods = [
        {"name": "peak", "startHour": (hour - 2) % 24, "endHour": (hour + 1) % 24, "pricePerKWh": 0.32},
        {"name": "night", "startHour": (hour + 1) % 24, "endHour": (hour - 2) % 24, "pricePerKWh": 0.18},
    ]
    port = free_port()
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": pg.dsn,
        "GRIDWATCH_API_PORT": str(port),
        "GRIDWATCH_OPT_TARIFF_PERIODS": json.dumps(periods),
        "GRIDWATCH_OPT_WINDOW_HOURS": str(HOURS + 0.5),
        "GRIDWATCH_OPT_CACHE_S": "0",
        "GRIDWATCH_OPT_WORK_START_HOUR": str((hour - 6) % 24),
        "GRIDWATCH_OPT_WORK_END_HOUR": str((hour - 3) % 24),
        "GRIDWATCH_OPT_WORK_DAYS": "0,1,2,3,4,5,6",
    }
    api = Workload("api", env, tmp_path).start()
    bare_port = free_port()
    bare = Workload(
        "api", {**base_env, "GRIDWATCH_API_PORT": str(bare_port), "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path
    ).start()
    base = f"http://127.0.0.1:{port}/api/optimization/suggestions"
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, 90, "API", logs=(api,))
        body = httpx.get(base, timeout=30).json()
        assert body["currency"] == "EUR" and body["generated_at"] >= now
        items: dict[str, dict[str, Any]] = {i["id"]: i for i in body["items"]}
        assert [i["priority"] for i in body["items"]] == sorted((i["priority"] for i in body["items"]), reverse=True)
        for item in body["items"]:
            assert 0 <= item["priority"] <= 100 and item["kind"] in (
                "peak_shifting", "maintenance", "efficiency", "operational"
            )  # fmt: skip
            assert item["title"] and item["description"] and item["sensors"] and item["evidence"]

        peak = items["peak_shifting:m1"]
        assert peak["machine"] == "m1" and peak["estimated_saving_kwh"] == 0.0
        assert peak["evidence"]["base_kw"] == pytest.approx(20.0)
        assert peak["evidence"]["flexible_kwh"] == pytest.approx(200 * 0.8, rel=0.05)  # 2 h at 100 kW, 80 % flexible
        assert peak["estimated_saving_currency"] == pytest.approx(200 * 0.8 * 0.3 * 0.14, rel=0.05)
        assert not any(i.startswith("peak_shifting:") and i != "peak_shifting:m1" for i in items)

        eff = items["efficiency:m4"]
        assert eff["evidence"]["peer_median"] == pytest.approx(10.0, rel=0.01)
        assert eff["estimated_saving_kwh"] == pytest.approx(80 * HOURS * (1 - 10 / 16), rel=0.02)
        assert [i["machine"] for i in body["items"] if i["kind"] == "efficiency"] == ["m4"]

        maint = items["maintenance:m2"]
        assert maint["priority"] == pytest.approx(90.0) and maint["sensors"] == ["m2-vibration"]
        assert "operational:out_of_hours:m3" in items

        only = httpx.get(base, params={"kind": "efficiency"}).json()["items"]
        assert [i["id"] for i in only] == ["efficiency:m4"]
        urgent = httpx.get(base, params={"min_priority": 85}).json()["items"]
        assert "maintenance:m2" in {i["id"] for i in urgent} and all(i["priority"] >= 85 for i in urgent)
        assert httpx.get(base, params={"kind": "magic"}).status_code == 422

        # without PostgreSQL configured, and with PostgreSQL down: 503 with a clear body
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{bare_port}/readyz").status_code == 200, 90, "bare API")
        for path in ("/api/optimization/suggestions", "/api/alerts", "/api/analytics/history?type=power"):
            r = httpx.get(f"http://127.0.0.1:{bare_port}{path}")
            assert r.status_code == 503 and "GRIDWATCH_POSTGRES_DSN" in r.json()["detail"], (path, r.text)
        pg.stop()
        for path in ("/api/optimization/suggestions", "/api/alerts", "/api/analytics/history?type=power"):
            r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
            assert r.status_code == 503 and "PostgreSQL is unavailable" in r.json()["detail"], (path, r.text)
        pg.start()
        wait_for(lambda: httpx.get(base, timeout=30).status_code == 200, 60, "recovery", logs=(api,))
    finally:
        api.stop()
        bare.stop()
        pg.stop()
