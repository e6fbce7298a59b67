"""Grid signals reach the plan: GridSignals published on a real Kafka's `<site>.grid` (as `gridwatch grid` publishes
them) price the next `gridwatch storage` plan and weigh its carbon term; stale ones leave it on the tariff, saying so;
an undecodable message is dead-lettered with its reason."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import redis
from confluent_kafka import Consumer, Producer
from gridwatch.common import kafka as gkafka
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import (
    GRID_UNITS,
    SCHEMA_VERSION,
    DispatchPlan,
    GridMetric,
    GridSignal,
    decode,
    encode_grid,
)

from tests.infra.services import Kafka
from tests.utils.workloads import Workload, wait_for

HOUR = 3600.0


def publish(
    kafka: Kafka, site: str, fetched_ts: float, extra: tuple[bytes, ...] = ()
) -> tuple[list[float], list[float]]:
    """26 hours of hourly day-ahead prices (EUR/MWh) and carbon intensities (gCO2/kWh) from the last full hour."""
    gkafka.ensure_topics(kafka.bootstrap, [f"{site}.grid"], 4)
    first = math.floor(time.time() / HOUR) * HOUR - HOUR
    prices = [30.0 + 17.0 * (h % 7) for h in range(26)]
    carbon = [80.0 + 40.0 * (h % 5) for h in range(26)]
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for metric, values, source in ((GridMetric.PRICE, prices, "entsoe"), (GridMetric.CARBON_INTENSITY, carbon, "gb")):
        for h, value in enumerate(values):
            signal = GridSignal(
                schema_version=SCHEMA_VERSION,
                site=site,
                source=source,
                region="10Y1001A1001A82H" if source == "entsoe" else "GB",
                metric=metric,
                unit=GRID_UNITS[metric],
                start_ts=first + h * HOUR,
                end_ts=first + (h + 1) * HOUR,
                value=value,
                fetched_ts=fetched_ts,
            )
            producer.produce(f"{site}.grid", encode_grid(signal), f"{source}:{metric.value}:".encode())
    for raw in extra:
        producer.produce(f"{site}.grid", raw, b"bad")
    assert producer.flush(10) == 0
    return [first + h * HOUR for h in range(26)], [*prices, *carbon]


def first_plan(kafka: Kafka, site: str, w: Workload) -> DispatchPlan:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-t", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([f"{site}.dispatch"])
    plans: list[DispatchPlan] = []

    def got() -> bool:
        for msg in consumer.consume(10, timeout=0.5):
            if msg.error() is None:
                m = decode(msg.value() or b"")
                assert isinstance(m, DispatchPlan)
                plans.append(m)
        return bool(plans)

    try:
        wait_for(got, 90, "a DispatchPlan on <site>.dispatch", logs=(w,))
    finally:
        consumer.close()
    return plans[0]


def env_for(base_env: dict[str, str]) -> dict[str, str]:
    return {
        **base_env,
        "GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH": "100",
        "GRIDWATCH_ANALYTICS_BATTERY_POWER_KW": "25",
        "GRIDWATCH_ANALYTICS_CARBON_WEIGHT_PER_KG": "0.2",
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_PRICE": "0.32",
        "GRIDWATCH_ANALYTICS_TARIFF_OFFPEAK_PRICE": "0.18",
        "GRIDWATCH_ANALYTICS_TARIFF_DAY_AHEAD_ADDER": "0.1",
        "GRIDWATCH_STORAGE_STEP_S": "900",
    }


def test_day_ahead_prices_and_carbon_on_the_grid_topic_reach_the_plan(
    kafka: Kafka, redis_client: redis.Redis, base_env: dict[str, str], site: str, tmp_path: Path
) -> None:
    redis_client.hset(Keys(site).aggregates, "total_power_kw", 40.0)  # the load the battery can serve (persistence)
    hours, values = publish(kafka, site, time.time(), extra=(b"\xc1 not msgpack",))
    prices, carbon = values[:26], values[26:]
    dlq = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-dlq", "auto.offset.reset": "earliest"})
    dlq.subscribe([f"{site}.dlq"])
    w = Workload("storage", env_for(base_env), tmp_path).start()
    try:
        plan = first_plan(kafka, site, w)
        assert plan.price_source == "day_ahead entsoe"
        assert plan.carbon_source == "grid gb"
        assert len(plan.import_price_per_kwh) == 96
        for i, price in enumerate(plan.import_price_per_kwh):
            h = hours.index(math.floor((plan.start_ts + i * 900) / HOUR) * HOUR)
            assert math.isclose(price, prices[h] / 1000 + 0.1), i  # EUR/MWh -> per kWh, plus the adder
            assert math.isclose(plan.carbon_kg_per_kwh[i], carbon[h] / 1000), i
        assert plan.carbon_weight_per_kg == 0.2
        # the battery works the day-ahead spread: it charges in a cheaper step than any it discharges in
        p = [sum(b.p_batt_kw[i] for b in plan.batteries) for i in range(96)]
        charging = [plan.import_price_per_kwh[i] for i in range(96) if p[i] < -1e-6]
        discharging = [plan.import_price_per_kwh[i] for i in range(96) if p[i] > 1e-6]
        assert charging and discharging and min(charging) < max(discharging)
        metrics = httpx.get(f"http://127.0.0.1:{base_env['GRIDWATCH_METRICS_PORT']}/metrics", timeout=5).text
        labels = f'component="storage",signal="price",site="{site}"'
        assert f"gridwatch_storage_grid_coverage_ratio{{{labels}}} 1.0" in metrics
        assert (
            f'gridwatch_storage_grid_signals_total{{component="storage",outcome="used",site="{site}"}} 52.0' in metrics
        )

        reasons: list[bytes] = []

        def dead_lettered() -> bool:
            for msg in dlq.consume(10, timeout=0.5):
                if msg.error() is None:
                    headers = dict(msg.headers() or [])
                    reason = headers["gridwatch.dlq.reason"]
                    reasons.append(reason.encode() if isinstance(reason, str) else reason or b"")
            return bool(reasons)

        wait_for(dead_lettered, 30, "the undecodable grid message in <site>.dlq", logs=(w,))
        assert reasons[0].startswith(b"invalid grid signal:")
    finally:
        dlq.close()
        code = w.stop()
    assert code == 0, w.log()[-2000:]


def test_stale_grid_signals_leave_the_plan_on_the_tariff_and_say_why(
    kafka: Kafka, base_env: dict[str, str], site: str, tmp_path: Path
) -> None:
    publish(kafka, site, time.time() - 3 * HOUR)  # older than GRIDWATCH_STORAGE_GRID_MAX_AGE_S (2 h)
    w = Workload("storage", env_for(base_env), tmp_path).start()
    try:
        plan = first_plan(kafka, site, w)
        assert plan.price_source.startswith("tariff: day-ahead prices stale (fetched 10"), plan.price_source
        assert plan.carbon_source.startswith("none: carbon intensities stale"), plan.carbon_source
        assert set(plan.import_price_per_kwh) == {0.32, 0.18}  # the time-of-use tariff
        assert plan.carbon_kg_per_kwh == []
        metrics = httpx.get(f"http://127.0.0.1:{base_env['GRIDWATCH_METRICS_PORT']}/metrics", timeout=5).text
        assert (
            f'gridwatch_storage_grid_coverage_ratio{{component="storage",signal="price",site="{site}"}} 0.0' in metrics
        )
    finally:
        code = w.stop()
    assert code == 0, w.log()[-2000:]
