"""The Operator dashboard on live data: a real Prometheus scrapes the operator and the site's workloads.

The operator reconciles a site on the control plane, scales its processors up on a lag and back down once
real processor, API and simulator processes (run here on the e2e Kafka and a Redis) catch up, and repairs a
manually scaled Deployment; then every panel query of charts/energy-site/dashboards/operator.json must
return at least one series from Prometheus.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from confluent_kafka import Producer
from gridwatch.dashboards.queries import expand, panel_queries

from tests.e2e.cluster import REPO, Cluster, OperatorProcess, wait_until
from tests.e2e.test_operator import SOUTH, delete_site, deployment_replicas, site_manifest, wait_ready
from tests.infra.services import Kafka, Prometheus, Redis
from tests.utils.workloads import Workload, free_port

DASHBOARD = REPO / "charts" / "energy-site" / "dashboards" / "operator.json"
# Grafana's interval variables, sized for 1s scrapes (rate() needs two samples in the window).
BUILTINS = {"__rate_interval": "20s", "__interval": "2s", "__range": "5m"}
SITE = "dashboard"
SITE_ID = f"{SOUTH}.{SITE}"  # the identity the operator gives it: its topics, groups and metrics' site label


@pytest.fixture(scope="module")
def redis(e2e_dir: Path) -> Iterator[Redis]:
    server = Redis(e2e_dir / "dashboard-redis")
    server.start()
    yield server
    server.stop()


def site_workloads(kafka: Kafka, redis: Redis, logdir: Path) -> tuple[dict[str, Workload], dict[str, int]]:
    """Processor, API and simulator of SITE as local processes (the site's kwok pods run nothing)."""
    base = {
        "GRIDWATCH_SITE": SITE_ID,
        "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "GRIDWATCH_REDIS_URL": redis.url,
        "GRIDWATCH_PARTITIONS": "4",
    }
    ports = {name: free_port() for name in ("processor", "api", "simulator")}
    workloads = {
        "processor": Workload("processor", {**base, "GRIDWATCH_METRICS_PORT": str(ports["processor"])}, logdir),
        "api": Workload("api", {**base, "GRIDWATCH_API_PORT": str(ports["api"])}, logdir),
        "simulator": Workload(
            "simulator",
            {
                **base,
                "GRIDWATCH_METRICS_PORT": str(ports["simulator"]),
                "GRIDWATCH_SIM_SENSORS": "50",
                "GRIDWATCH_SIM_RATE": "100",
            },
            logdir,
        ),
    }
    return workloads, ports


def test_every_operator_panel_query_returns_data(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka, redis: Redis, e2e_dir: Path
) -> None:
    logdir = e2e_dir / "dashboard"
    logdir.mkdir(exist_ok=True)
    workloads, ports = site_workloads(e2e_kafka, redis, logdir)
    targets = {"operator": [f"127.0.0.1:{operator.metrics_port}"]}
    targets |= {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}
    prometheus = Prometheus(logdir / "prometheus", targets=targets, scrape_interval="1s")
    prometheus.start()
    try:
        # the backlog below is garbage (no readings in it), so this site scales on the lag in Kafka messages
        autoscaling = {
            "enabled": True, "minReplicas": 1, "maxReplicas": 3, "lagPerReplica": 100, "cooldownSeconds": 4,
            "lagUnit": "messages",
        }  # fmt: skip
        manifest = site_manifest(SITE, e2e_kafka, kafka={"partitions": 4}, processor={"autoscaling": autoscaling})
        cluster.apply(manifest, SOUTH)
        wait_ready(cluster, SITE, SOUTH)

        # A backlog before any processor runs: the operator scales up (through the scale subresource).
        producer = Producer({"bootstrap.servers": e2e_kafka.bootstrap})
        for i in range(250):
            producer.produce(f"{SITE_ID}.readings", key=str(i % 16).encode(), value=b"not msgpack")
        assert producer.flush(10) == 0
        wait_until(lambda: deployment_replicas(cluster, SITE, SOUTH)["processor"] == 3, 30, "scale up to 3")

        # Real workloads drain it (the garbage goes to the DLQ): the operator scales back down.
        for w in workloads.values():
            w.start()
        prometheus.wait_for_targets(timeout=120, healthy=True)
        wait_until(lambda: deployment_replicas(cluster, SITE, SOUTH)["processor"] == 1, 60, "scale down to 1")

        # A manual scale the operator repairs.
        cluster.kubectl("scale", "deployment", f"{SITE}-api", "-n", SOUTH, "--replicas=3")
        wait_until(lambda: deployment_replicas(cluster, SITE, SOUTH)["api"] == 1, 30, "the API scaled back to 1")
        # scaling goes through the Deployment's scale subresource: Helm history keeps configuration changes only
        assert cluster.revisions(SITE, SOUTH) == [1]

        # What the operator did is in Prometheus, not only in its /metrics text.
        s = f'site="{SITE_ID}", namespace="{SOUTH}"'
        for expr in (
            f'gridwatch_operator_scaling_decisions_total{{{s}, direction="up"}} >= 1',
            f'gridwatch_operator_scaling_decisions_total{{{s}, direction="down"}} >= 1',  # 3 -> 1: one step or two
            f"gridwatch_operator_helm_revision{{{s}}} == 1",
            f"sum(gridwatch_operator_drift_repairs_total{{{s}}}) >= 1",
        ):
            wait_until(partial(prometheus.query, expr), 60, f"{expr} in Prometheus")

        queries = list(panel_queries(json.loads(DASHBOARD.read_text())))
        assert len(queries) >= 10, queries
        empty = queries
        deadline = time.monotonic() + 90
        while empty and time.monotonic() < deadline:
            empty = [q for q in empty if not prometheus.query(expand(q.expr, {"site": SITE_ID}, BUILTINS))]
            if empty:
                time.sleep(2)
        assert not empty, "panels without data:\n" + "\n".join(
            f"  {q.panel} [{q.ref_id}]: {expand(q.expr, {'site': SITE_ID}, BUILTINS)}" for q in empty
        )
    finally:
        for w in workloads.values():
            w.stop()
        prometheus.stop()
    delete_site(cluster, SITE, SOUTH)
