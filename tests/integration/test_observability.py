"""A real Prometheus scrapes the real workloads: every dashboard query returns data, every alert evaluates.

Simulator, processor and API run as subprocesses on the session's Kafka and Redis; Debian's Prometheus
scrapes them every second and evaluates the chart's alert rules (copied with `for: 0s`, same expressions).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from confluent_kafka import Producer
from gridwatch.dashboards.boards import BOARDS
from gridwatch.dashboards.queries import PanelQuery, expand, panel_queries, variable_queries
from websockets.sync.client import connect

from tests.infra.services import Kafka, Postgres, Prometheus, Redis, ServiceError
from tests.utils.workloads import Workload, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "charts" / "energy-site" / "dashboards"
RULES = ROOT / "charts" / "energy-site" / "rules" / "gridwatch-rules.yaml"
# Grafana's interval variables, sized for 1s scrapes (rate() needs two samples in the window)
BUILTINS = {"__rate_interval": "20s", "__interval": "2s", "__range": "5m"}
# The operator dashboard reads gridwatch_operator_* series, which exist only while the operator reconciles
# an EnergySite on a Kubernetes API server: tests/e2e/test_operator_dashboard.py runs its panel queries.
# The storage dashboard's series come from the storage optimizer, the rebalancer and the ingest downlink:
# tests/integration/test_storage_observability.py runs those with a real Prometheus.
LIVE_BOARDS = [name for name in BOARDS if name not in ("operator", "storage")]


@dataclass
class Observed:
    """The running workloads, the Prometheus scraping them and the background traffic."""

    site: str
    prometheus: Prometheus
    workloads: dict[str, Workload]
    api: str
    stop: threading.Event = field(default_factory=threading.Event)
    ws_messages: list[str] = field(default_factory=list)

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.prometheus.query(expr)

    def empty(self, queries: list[PanelQuery]) -> list[PanelQuery]:
        return [q for q in queries if not self.query(expand(q.expr, {"site": self.site}, BUILTINS))]

    def logs(self) -> tuple[Workload, ...]:
        return tuple(self.workloads.values())


def rules_with_no_pending(tmp_path: Path) -> Path:
    """The chart's rules with `for: 0s`, so an alert fires on its first true evaluation."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    path = tmp_path / "gridwatch-rules.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def drive_traffic(obs: Observed) -> None:
    """Keep the API busy with the requests the UI makes, a 404 among them."""
    with httpx.Client(base_url=obs.api, timeout=5) as client:
        while not obs.stop.wait(0.2):
            for path in ("/api/sensors?limit=20", "/api/dashboard/stats", "/api/sensors/no-such-sensor", "/health"):
                with contextlib.suppress(httpx.HTTPError):
                    client.get(path)


def hold_websocket(obs: Observed, ready: threading.Event) -> None:
    """One live WebSocket client for the whole test, reading what the API pushes."""
    with connect(obs.api.replace("http", "ws") + "/ws", open_timeout=30) as ws:
        ready.set()
        while not obs.stop.is_set():
            try:
                obs.ws_messages.append(str(ws.recv(timeout=1)))
            except TimeoutError:
                continue


@pytest.fixture(scope="module")
def observed(
    kafka: Kafka, redis_server: Redis, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    tmp = tmp_path_factory.mktemp("observability")
    site = f"obs{int(time.time()) % 100_000}"
    base = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_PARTITIONS": "4",
    }
    ports = {name: free_port() for name in ("simulator", "processor", "api")}
    workloads = {
        "processor": Workload("processor", {**base, "GRIDWATCH_METRICS_PORT": str(ports["processor"])}, tmp),
        "api": Workload(
            "api",
            {
                **base,
                "GRIDWATCH_API_PORT": str(ports["api"]),
                "GRIDWATCH_API_WS_UPDATE_INTERVAL_S": "1",
                # today's energy and cost gauges are priced from PostgreSQL history
                "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
                "GRIDWATCH_API_ENERGY_TODAY_INTERVAL_S": "2",
            },
            tmp,
        ),
        "simulator": Workload(
            "simulator",
            {
                **base,
                "GRIDWATCH_METRICS_PORT": str(ports["simulator"]),
                "GRIDWATCH_SIM_SENSORS": "600",
                "GRIDWATCH_SIM_RATE": "3000",
                "GRIDWATCH_SIM_SENSORS_PER_GATEWAY": "50",
                "GRIDWATCH_SIM_ANOMALY_RATE": "0.05",
            },
            tmp,
        ),
    }
    targets = {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}
    prometheus = Prometheus(tmp / "prometheus", targets=targets, rule_files=[rules_with_no_pending(tmp)])
    obs = Observed(site, prometheus, workloads, f"http://127.0.0.1:{ports['api']}")
    threads: list[threading.Thread] = []
    try:
        for w in workloads.values():
            w.start()
        prometheus.start()
        # a start-up bound, not a timing under test: three workloads importing at once on a loaded 2-core machine
        # took over 120 s before their first log line
        prometheus.wait_for_targets(timeout=300, healthy=True)
        wait_for(lambda: httpx.get(f"{obs.api}/readyz").status_code == 200, 60, "API ready", logs=obs.logs())
        ws_ready = threading.Event()
        threads = [
            threading.Thread(target=drive_traffic, args=(obs,), daemon=True),
            threading.Thread(target=hold_websocket, args=(obs, ws_ready), daemon=True),
        ]
        for t in threads:
            t.start()
        assert ws_ready.wait(30), "the WebSocket client could not connect"
        # one undecodable message on the readings topic: the processor must dead-letter it
        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        producer.produce(f"{site}.readings", b"\xc1 not msgpack", b"garbage")
        assert producer.flush(10) == 0
        wait_for(
            lambda: bool(obs.query(f'sum(gridwatch_processor_readings_total{{site="{site}"}}) > 0')),
            180,
            "the processor's first readings in Prometheus",
            interval=1,
            logs=obs.logs(),
        )
        yield obs
    finally:
        obs.stop.set()
        for t in threads:
            t.join(10)
        for w in workloads.values():
            w.stop()
        prometheus.stop()


def dashboard(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DASHBOARDS / f"{name}.json").read_text())
    return doc


def test_site_variable_lists_the_site(observed: Observed) -> None:
    for name in BOARDS:
        (expr,) = [q for v, q in variable_queries(dashboard(name)) if v == "site"]
        # cluster and namespace at All (`.*`): the local series carry neither label, and the site is still listed
        expanded = expand(expr, {"cluster": ".*", "namespace": ".*"})
        metric = expanded.removeprefix("label_values(").rsplit(",", 1)[0]
        url = f"{observed.prometheus.url}/api/v1/label/site/values?" + urllib.parse.urlencode({"match[]": metric})
        with urllib.request.urlopen(url, timeout=10) as response:
            assert observed.site in json.loads(response.read())["data"], name


@pytest.mark.parametrize("name", LIVE_BOARDS)
def test_every_panel_query_returns_data(observed: Observed, name: str) -> None:
    queries = list(panel_queries(dashboard(name)))
    assert queries
    empty = queries
    deadline = time.monotonic() + 180
    while empty and time.monotonic() < deadline:
        empty = observed.empty(empty)
        if empty:
            time.sleep(2)
    assert not empty, "panels without data:\n" + "\n".join(
        f"  {q.panel} [{q.ref_id}]: {expand(q.expr, {'site': observed.site}, BUILTINS)}" for q in empty
    )


def value(observed: Observed, expr: str) -> float:
    result = observed.query(expr.replace("$site", observed.site))
    assert len(result) == 1, f"{expr}: {result}"
    return float(result[0]["value"][1])


def eventually(check: Callable[[], None], timeout: float = 60) -> None:
    """Run an assertion block until it passes; after `timeout` let its AssertionError through."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_the_data_behind_the_panels_is_what_the_workloads_did(observed: Observed) -> None:
    eventually(lambda: check_values(observed))


def check_values(observed: Observed) -> None:
    s = 'site="$site"'
    assert value(observed, f'sum(gridwatch_processor_dlq_messages_total{{{s}, reason="invalid"}})') == 1
    assert value(observed, f"sum(rate(gridwatch_processor_readings_total{{{s}}}[20s]))") > 0
    assert value(observed, f"max(gridwatch_api_site_power_watts{{{s}}})") > 0
    assert value(observed, f'sum(gridwatch_processor_energy_joules_total{{{s}, direction="import"}})') > 0
    assert value(observed, f'count({{__name__=~"gridwatch_.+_created", {s}}}) or vector(0)') == 0
    assert value(observed, f"sum(max by (status) (gridwatch_api_site_sensors{{{s}}}))") == 600
    assert value(observed, f"sum(gridwatch_api_websocket_clients{{{s}}})") == 1
    assert value(observed, f"count(gridwatch_processor_consumer_lag{{{s}}})") == 4
    assert value(observed, f'sum(gridwatch_api_request_seconds_count{{{s}, status="404"}})') > 0
    assert value(observed, f"sum(gridwatch_processor_end_to_end_latency_seconds_count{{{s}}})") > 0
    assert value(observed, f"count(topk(10, gridwatch_api_site_failure_probability{{{s}}}))") == 10
    assert observed.ws_messages, "the WebSocket client received nothing"


def test_every_alert_expression_evaluates_in_prometheus(observed: Observed) -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        try:
            observed.query(rule["expr"])
        except ServiceError as exc:
            pytest.fail(f"{rule['alert']}: {exc}")

    def evaluated() -> dict[str, dict[str, Any]]:
        with urllib.request.urlopen(f"{observed.prometheus.url}/api/v1/rules?type=alert", timeout=10) as response:
            groups = json.loads(response.read())["data"]["groups"]
        return {r["name"]: r for g in groups for r in g["rules"]}

    wait_for(lambda: all(r.get("lastEvaluation", "").startswith("2") for r in evaluated().values()), 30, "rules run")
    loaded = evaluated()
    assert set(loaded) == {r["alert"] for r in rules}
    for name, rule in loaded.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"


def test_producer_down_fires_when_the_simulator_stops(observed: Observed) -> None:
    """Last in this module: it stops the simulator."""
    firing = f'ALERTS{{alertname="ProducerDown", alertstate="firing", site="{observed.site}"}}'
    assert observed.query(firing) == [], "ProducerDown fired while the simulator was running"
    assert observed.workloads["simulator"].stop() == 0
    # the heartbeat clause: 30s without a heartbeat from producer "simulator"
    wait_for(lambda: bool(observed.query(firing)), 90, "ProducerDown firing", interval=1, logs=observed.logs())
    (alert,) = observed.query(firing)
    assert alert["metric"]["producer"] == "simulator"
    assert alert["metric"]["severity"] == "critical"
    # and the scrape-target clause for the stopped simulator itself
    target_down = 'ALERTS{alertname="ProducerDown", alertstate="firing", job="simulator"}'
    assert observed.query(target_down), "the simulator's down target did not fire ProducerDown"
