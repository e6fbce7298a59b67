"""`gridwatch rebalancer` as a real process: it follows the stored plan, sends a clamped battery setpoint on
`<prefix>.commands`, audits it in PostgreSQL, serves /metrics and stops on SIGTERM; in dry run it sends nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import msgspec
import psycopg
import redis
from confluent_kafka import Consumer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, BatteryDispatch, Command, DispatchPlan, decode

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, wait_for


def stored_plan(site: str, now: float) -> bytes:
    n = 4
    plan = DispatchPlan(
        schema_version=SCHEMA_VERSION, site=site, plan_id="plan-1", created_ts=now, start_ts=now - 60, step_s=900.0,
        status="optimal", message="", solve_time_s=0.01, forecast="persistence", currency="EUR",
        load_kw=[100.0] * n, import_price_per_kwh=[0.32] * n, export_price_per_kwh=[0.0] * n,
        grid_import_kw=[50.0] * n, batteries=[BatteryDispatch("b1", [50.0] * n, [0.5] * (n + 1), 100.0)],
        expected_cost=1.0, cost_without_battery=2.0, savings=1.0, peak_import_kw=50.0,
        peak_import_without_battery_kw=100.0,
    )  # fmt: skip
    return msgspec.json.encode(plan)


def test_rebalancer_process_sends_and_audits_clamped_setpoints(
    kafka: Kafka, redis_client: redis.Redis, postgres: Postgres, base_env: dict[str, str], site: str, tmp_path: Path
) -> None:
    keys = Keys(site)
    now = time.time()
    redis_client.set(keys.storage_plan, stored_plan(site, now))
    redis_client.hset(keys.batteries, "b1", json.dumps({"soc_frac": 0.5, "p_kw": 0.0, "ts": now + 3600}))
    redis_client.hset(keys.aggregates, "total_power_kw", 100.0)
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_ANALYTICS_BATTERIES": '[{"name": "b1", "capacityKWh": 100, "powerKW": 40}]',
        "GRIDWATCH_REBALANCER_INTERVAL_S": "1",
        "GRIDWATCH_REBALANCER_RAMP_KW_PER_S": "15",
    }
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-t", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([f"{site}.commands"])
    w = Workload("rebalancer", env, tmp_path).start()
    commands: list[Command] = []
    try:

        def got() -> bool:
            for msg in consumer.consume(10, timeout=0.5):
                if msg.error() is None:
                    c = decode(msg.value() or b"")
                    assert isinstance(c, Command)
                    commands.append(c)
            return len(commands) >= 3

        wait_for(got, 90, "battery setpoints on <site>.commands", logs=(w,))
        first, second, third = commands[:3]
        assert first.target == "b1" and first.plan_id == "plan-1"
        # the plan asks 50 kW: the 40 kW limit and the 15 kW/s ramp (1 s interval) clamp it, step by step
        assert first.setpoint_kw == 15.0 and "ramp rate" in first.reason
        assert second.setpoint_kw == 30.0 and third.setpoint_kw == 40.0
        metrics = httpx.get(f"http://127.0.0.1:{base_env['GRIDWATCH_METRICS_PORT']}/metrics", timeout=5).text
        assert "gridwatch_rebalancer_commands_total" in metrics
        with psycopg.connect(postgres.dsn) as conn:
            rows = conn.execute(
                "SELECT requested_kw, setpoint_kw, sent FROM gw_rebalancer_audit WHERE site = %s ORDER BY ts LIMIT 3",
                (site,),
            ).fetchall()
        assert rows == [(50.0, 15.0, True), (50.0, 30.0, True), (50.0, 40.0, True)]
    finally:
        consumer.close()
        code = w.stop()
    assert code == 0, w.log()[-2000:]
