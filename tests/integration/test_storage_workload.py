"""`gridwatch storage` as a real process on real Kafka, Redis and PostgreSQL: it plans from the reported SOC and the
seasonal-naive forecast of yesterday's history, publishes the DispatchPlan, serves /metrics and stops on SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import msgspec
import redis
from confluent_kafka import Consumer
from gridwatch.api.routes.storage import view
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import DispatchPlan, decode

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, wait_for

DAY_S = 86400.0


def seed_history(postgres: Postgres, site: str, now: float) -> None:
    """Yesterday's site power, one row per minute: 40 kW, and 80 kW between 17 and 21 h UTC."""
    with connect(postgres.dsn, "test") as conn:
        migrate(conn)
        start = (now // 60) * 60 - 2 * DAY_S
        rows = []
        for m in range(int(2 * DAY_S / 60)):
            ts = start + 60 * m
            hour = dt.datetime.fromtimestamp(ts, dt.UTC).hour
            kw = 80.0 if 17 <= hour < 21 else 40.0
            rows.append((site, dt.datetime.fromtimestamp(ts, dt.UTC), kw / 60.0))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO gw_history_type_minute (site, sensor_type, minute, sensors, readings, anomalies,"
                " value_sum, value_min, value_max, energy_kwh) VALUES (%s, 'power', %s, 1, 1, 0, 0, 0, 0, %s)",
                rows,
            )


def test_storage_plans_from_reported_soc_and_history(
    kafka: Kafka, redis_client: redis.Redis, postgres: Postgres, base_env: dict[str, str], site: str, tmp_path: Path
) -> None:
    now = time.time()
    seed_history(postgres, site, now)
    keys = Keys(site)
    redis_client.hset(keys.aggregates, "total_power_kw", 40.0)
    redis_client.hset(keys.batteries, "battery", json.dumps({"soc_frac": 0.35, "p_kw": 0.0, "ts": now + 3600}))
    port = int(base_env["GRIDWATCH_METRICS_PORT"])
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH": "100",
        "GRIDWATCH_ANALYTICS_BATTERY_POWER_KW": "25",
        "GRIDWATCH_ANALYTICS_BATTERY_SOC_MIN": "0.1",
        "GRIDWATCH_ANALYTICS_BATTERY_SOC_MAX": "0.9",
        "GRIDWATCH_ANALYTICS_DEMAND_CHARGE_PER_KW": "10",
        "GRIDWATCH_STORAGE_STEP_S": "900",
    }
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-t", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([f"{site}.dispatch"])
    w = Workload("storage", env, tmp_path).start()
    try:
        plans: list[DispatchPlan] = []

        def got_plan() -> bool:
            for msg in consumer.consume(10, timeout=0.5):
                if msg.error() is None:
                    m = decode(msg.value() or b"")
                    assert isinstance(m, DispatchPlan)
                    plans.append(m)
            return bool(plans)

        wait_for(got_plan, 90, "a DispatchPlan on <site>.dispatch", logs=(w,))
        p = plans[0]
        assert p.site == site and p.status == "optimal"
        assert p.forecast == "seasonal_naive"
        assert len(p.load_kw) == 96 and p.step_s == 900
        assert set(p.load_kw) == {40.0, 80.0}  # yesterday's shape, from PostgreSQL
        assert p.batteries[0].soc_frac[0] == 0.35  # the reported SOC, not a default
        # it shaves the 80 kW evening and never leaves the SOC band
        assert p.peak_import_kw < p.peak_import_without_battery_kw
        assert min(p.batteries[0].soc_frac) >= 0.1 - 1e-9 and max(p.batteries[0].soc_frac) <= 0.9 + 1e-9
        assert p.savings > 0
        stored = msgspec.json.decode(redis_client.get(keys.storage_plan) or b"", type=DispatchPlan)
        assert stored.plan_id == p.plan_id
        assert view(stored).savings == p.savings
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'gridwatch_storage_plans_total{component="storage",site="' + site + '",status="optimal"}' in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        consumer.close()
        code = w.stop()
    assert code == 0, w.log()[-2000:]
    assert '"plan published"' in w.log() or "plan published" in w.log()
