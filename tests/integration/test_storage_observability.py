"""A real Prometheus scrapes the storage optimizer, the rebalancer and the ingest downlink: every panel query of the
storage dashboard returns data, and the storage alert rules evaluate without error.

The three run as subprocesses on the session's Kafka and Redis and a Mosquitto broker: the optimizer plans every
minute for a battery, the rebalancer sends its setpoints every second, the downlink delivers them over MQTT.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from gridwatch.common.rediskeys import Keys
from gridwatch.dashboards.queries import expand, panel_queries

from tests.infra.mosquitto import Mosquitto
from tests.infra.services import Kafka, Prometheus, Redis
from tests.integration.test_observability import BUILTINS, DASHBOARDS, rules_with_no_pending
from tests.utils.workloads import Workload, free_port, wait_for


def battery_and_tariff() -> dict[str, str]:
    """A battery and a peak hour starting with the next UTC hour, inside the two-hour horizon: plans that pay."""
    start = (time.gmtime().tm_hour + 1) % 24
    return {
        "GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH": "100",
        "GRIDWATCH_ANALYTICS_BATTERY_POWER_KW": "25",
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_START_HOUR": str(start),
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_END_HOUR": str(start + 1),
    }


@pytest.fixture(scope="module")
def scraped(
    kafka: Kafka, redis_server: Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Prometheus, dict[str, Workload]]]:
    tmp = tmp_path_factory.mktemp("storage-observability")
    site = f"sobs{int(time.time()) % 100_000}"
    broker = Mosquitto(tmp / "mosquitto")
    client = redis.Redis.from_url(redis_server.url)
    keys = Keys(site)
    client.hset(keys.aggregates, "total_power_kw", 40.0)
    # a reported state that stays fresh for the test (the simulator's assets would keep it current)
    client.hset(keys.batteries, "battery", json.dumps({"soc_frac": 0.5, "p_kw": 0.0, "ts": time.time() + 3600}))
    base = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_PARTITIONS": "2",
        **battery_and_tariff(),
    }
    ports = {name: free_port() for name in ("storage", "rebalancer", "ingest")}
    workloads: dict[str, Workload] = {}
    prometheus = Prometheus(
        tmp / "prometheus",
        targets={name: [f"127.0.0.1:{port}"] for name, port in ports.items()},
        rule_files=[rules_with_no_pending(tmp)],
    )
    try:
        broker.start()
        workloads = {
            "storage": Workload(
                "storage",
                {
                    **base,
                    "GRIDWATCH_METRICS_PORT": str(ports["storage"]),
                    "GRIDWATCH_STORAGE_STEP_S": "60",
                    "GRIDWATCH_STORAGE_HORIZON_HOURS": "2",
                },
                tmp,
            ),
            "rebalancer": Workload(
                "rebalancer",
                {**base, "GRIDWATCH_METRICS_PORT": str(ports["rebalancer"]), "GRIDWATCH_REBALANCER_INTERVAL_S": "1"},
                tmp,
            ),
            "ingest": Workload(
                "ingest",
                {
                    **base,
                    **broker.env(),
                    "GRIDWATCH_METRICS_PORT": str(ports["ingest"]),
                    "GRIDWATCH_INGEST_MQTT_ENABLED": "true",
                    "GRIDWATCH_INGEST_HTTP_ENABLED": "false",
                },
                tmp,
            ),
        }
        for w in workloads.values():
            w.start()
        prometheus.start()
        prometheus.wait_for_targets(timeout=120, healthy=True)
        wait_for(
            lambda: bool(
                prometheus.query(
                    f'sum(gridwatch_ingest_downlink_commands_total{{site="{site}",outcome="delivered"}}) > 0'
                )
            ),
            180,
            "commands delivered over MQTT, in Prometheus",
            interval=1,
            logs=tuple(workloads.values()),
        )
        yield site, prometheus, workloads
    finally:
        for w in workloads.values():
            w.stop()
        prometheus.stop()
        broker.stop()
        client.close()


def board() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DASHBOARDS / "storage.json").read_text())
    return doc


def test_every_storage_panel_query_returns_data(scraped: tuple[str, Prometheus, dict[str, Workload]]) -> None:
    site, prometheus, _ = scraped
    queries = list(panel_queries(board()))
    assert len(queries) >= 8
    empty = queries
    deadline = time.monotonic() + 180
    while empty and time.monotonic() < deadline:
        empty = [q for q in empty if not prometheus.query(expand(q.expr, {"site": site}, BUILTINS))]
        if empty:
            time.sleep(2)
    assert not empty, "panels without data:\n" + "\n".join(
        f"  {q.panel} [{q.ref_id}]: {expand(q.expr, {'site': site}, BUILTINS)}" for q in empty
    )


def test_the_panels_show_what_the_workloads_did(scraped: tuple[str, Prometheus, dict[str, Workload]]) -> None:
    site, prometheus, _ = scraped

    def value(expr: str) -> float:
        result = prometheus.query(expr.replace("$site", site))
        assert len(result) == 1, f"{expr}: {result}"
        return float(result[0]["value"][1])

    s = 'site="$site"'
    assert value(f'sum(gridwatch_storage_plans_total{{{s}, status="optimal"}})') >= 1
    assert value(f"time() - max(gridwatch_storage_last_plan_timestamp_seconds{{{s}}})") < 120
    assert value(f"max(gridwatch_storage_plan_degraded{{{s}}})") == 0
    assert value(f"max(gridwatch_storage_expected_savings{{{s}}})") > 0  # the peak hour is within the horizon
    assert value(f'max(gridwatch_storage_grid_coverage_ratio{{{s}, signal="price"}})') == 0  # no grid ingestor
    assert value(f'sum(gridwatch_rebalancer_commands_total{{{s}, kind="battery_setpoint", sent="true"}})') > 0
    assert value(f'sum(gridwatch_ingest_downlink_commands_total{{{s}, outcome="delivered"}})') > 0
    assert value(f"max(gridwatch_ingest_downlink_connected{{{s}}})") == 1


def test_the_storage_alerts_evaluate_and_stay_quiet(scraped: tuple[str, Prometheus, dict[str, Workload]]) -> None:
    site, prometheus, _ = scraped

    def evaluated() -> dict[str, dict[str, Any]]:
        with urllib.request.urlopen(f"{prometheus.url}/api/v1/rules?type=alert", timeout=10) as response:
            groups = json.loads(response.read())["data"]["groups"]
        return {r["name"]: r for g in groups if g["name"] == "gridwatch.storage" for r in g["rules"]}

    wait_for(lambda: all(r.get("lastEvaluation", "").startswith("2") for r in evaluated().values()), 30, "rules run")
    rules = evaluated()
    assert set(rules) == {
        "StoragePlanStale",
        "StoragePlanDegraded",
        "StorageSolveFailing",
        "RebalancerPlanStale",
        "RebalancerSafetyClampsHigh",
    }
    for name, rule in rules.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"
        assert rule["state"] == "inactive", f"{name} fires on a healthy site: {rule.get('alerts')}"
    assert prometheus.query(f'ALERTS{{site="{site}", alertstate="firing"}}') == []
