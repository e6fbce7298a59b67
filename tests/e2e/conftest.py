"""Session fixtures for operator tests: a real control plane, a real Kafka, the operator chart and process.

The operator runs as a real process whose kubeconfig holds a token of the ServiceAccount that
charts/gridwatch-operator creates, so every test also proves that the chart's RBAC is enough.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cluster import REPO, Cluster, OperatorProcess
from tests.infra.controlplane import ControlPlane
from tests.infra.services import Kafka
from tests.utils.workloads import free_port

OPERATOR_NAMESPACE = "gridwatch-system"
OPERATOR_RELEASE = "gridwatch-operator"
OPERATOR_SA = "gridwatch-operator"
# Namespaces the operator watches (RoleBindings are created in each by the operator chart).
SITE_NAMESPACES = ("gw-north", "gw-south", "gw-faults")


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def control_plane(e2e_dir: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane()
    plane.ensure_built()
    plane.start(e2e_dir / "k8s")
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def e2e_kafka(e2e_dir: Path) -> Iterator[Kafka]:
    broker = Kafka(e2e_dir / "kafka")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> Cluster:
    """The plane with restricted namespaces and the operator chart (CRD, RBAC, Deployment) installed."""
    c = Cluster(control_plane)
    for ns in (OPERATOR_NAMESPACE, *SITE_NAMESPACES):
        c.namespace(ns)
    values = {"watchNamespaces": list(SITE_NAMESPACES), "helmDriver": "configmap"}
    c.helm(
        "install",
        OPERATOR_RELEASE,
        str(REPO / "charts" / "gridwatch-operator"),
        "-n",
        OPERATOR_NAMESPACE,
        "--values",
        "-",
        "--wait",
        "--timeout",
        "120s",
        stdin=json.dumps(values),
    )
    c.kubectl("wait", "--for=condition=Established", "crd/energysites.gridwatch.io", "--timeout=60s")
    return c


@pytest.fixture(scope="session")
def operator(cluster: Cluster, e2e_kafka: Kafka, e2e_dir: Path) -> Iterator[OperatorProcess]:
    """The operator, authenticated as its own ServiceAccount, watching SITE_NAMESPACES."""
    kubeconfig = cluster.token_kubeconfig(OPERATOR_SA, OPERATOR_NAMESPACE, e2e_dir / "operator.kubeconfig")
    liveness, metrics = free_port(), free_port()
    env = {
        **cluster.env(),
        "KUBECONFIG": str(kubeconfig),
        "GRIDWATCH_OPERATOR_NAMESPACES": ",".join(SITE_NAMESPACES),
        "GRIDWATCH_OPERATOR_CHART_PATH": str(REPO / "charts" / "energy-site"),
        "GRIDWATCH_OPERATOR_HELM_BINARY": str(cluster.plane.bin_dir / "helm"),
        "GRIDWATCH_OPERATOR_HELM_DRIVER": "configmap",
        "GRIDWATCH_OPERATOR_WORKLOADS_IMAGE": "ghcr.io/gridwatch/gridwatch:e2e",
        "GRIDWATCH_OPERATOR_STATUS_INTERVAL_SECONDS": "1",
        "GRIDWATCH_OPERATOR_AUTOSCALE_INTERVAL_SECONDS": "2",
        "GRIDWATCH_OPERATOR_RETRY_DELAY_SECONDS": "3",
        "GRIDWATCH_OPERATOR_KAFKA_TIMEOUT_SECONDS": "5",
        "GRIDWATCH_OPERATOR_METRICS_PORT": str(metrics),
        "GRIDWATCH_OPERATOR_LIVENESS_PORT": str(liveness),
    }
    process = OperatorProcess(env, e2e_dir, liveness, metrics).start()
    yield process
    process.stop()
