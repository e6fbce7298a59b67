"""Upgrading Gridwatch on a real control plane: the previous release's operator chart (CRD in crds/) and operator
run sites; `helm upgrade` to the working tree serves the new CRD, and the new operator takes the sites over
without recreating their Deployments, holding each site's chart upgrade until its policy lets it (rollout
control: siteUpgrades.policy Manual, spec.upgrade.chartVersion approval, a maintenance window). docs/upgrading.md

"Previous" is a fixed commit, exported with `git archive` (charts and operator source): PREVIOUS below. It is the
state before this session's CRD work, with chart version 0.1.0, the CRD in crds/ and sites named by bare name.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.cluster import REPO, Cluster, OperatorProcess, condition, wait_until
from tests.e2e.conftest import OPERATOR_NAMESPACE, OPERATOR_RELEASE, OPERATOR_SA
from tests.infra.controlplane import ControlPlane
from tests.infra.services import Kafka
from tests.utils.workloads import free_port

PREVIOUS = "cc1d2aa7d470f78bba5ebdf57f685b5441ac3089"  # charts 0.1.0, CRD in crds/, before spec.siteId and upgrade
NS = "gw-upgrade"
# two operators, three sites and a maintenance window that opens during the test: ~10 min on two loaded cores
pytestmark = pytest.mark.timeout(1800)
SITES = ("approved", "config", "windowed")


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """charts/ and operator/src of PREVIOUS, from git."""
    root = tmp_path_factory.mktemp("previous")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS, "charts", "operator/src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # the "data" filter where this Python has it (3.11.4+; Debian's 3.11.2 does not); the archive is our own
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, filter="data")
        else:
            tar.extractall(root)  # git archive of this repository's own history
    assert yaml.safe_load((root / "charts" / "energy-site" / "Chart.yaml").read_text())["version"] == "0.1.0"
    assert (root / "charts" / "gridwatch-operator" / "crds" / "energysite.yaml").exists()
    return root


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A control plane of its own: the CRD is cluster-wide, and this one starts at the previous version."""
    control = ControlPlane()
    control.ensure_built()
    control.start(tmp_path_factory.mktemp("upgrade-k8s"))
    cluster = Cluster(control)
    for ns in (OPERATOR_NAMESPACE, NS):
        cluster.namespace(ns)
    yield cluster
    control.stop()


def operator_env(cluster: Cluster, kubeconfig: Path, chart: Path, **extra: str) -> dict[str, str]:
    return {
        **cluster.env(),
        "KUBECONFIG": str(kubeconfig),
        "GRIDWATCH_OPERATOR_NAMESPACES": NS,
        "GRIDWATCH_OPERATOR_CHART_PATH": str(chart),
        "GRIDWATCH_OPERATOR_HELM_BINARY": str(cluster.plane.bin_dir / "helm"),
        "GRIDWATCH_OPERATOR_HELM_DRIVER": "configmap",
        "GRIDWATCH_OPERATOR_WORKLOADS_IMAGE": "ghcr.io/gridwatch/gridwatch:e2e",
        "GRIDWATCH_OPERATOR_STATUS_INTERVAL_SECONDS": "1",
        "GRIDWATCH_OPERATOR_AUTOSCALE_INTERVAL_SECONDS": "3",
        "GRIDWATCH_OPERATOR_RETRY_DELAY_SECONDS": "3",
        "GRIDWATCH_OPERATOR_KAFKA_TIMEOUT_SECONDS": "5",
        "GRIDWATCH_OPERATOR_METRICS_PORT": str(free_port()),
        "GRIDWATCH_OPERATOR_LIVENESS_PORT": str(free_port()),
        **extra,
    }


def start(env: dict[str, str], logdir: Path) -> OperatorProcess:
    logdir.mkdir(parents=True, exist_ok=True)
    return OperatorProcess(env, logdir, int(env["GRIDWATCH_OPERATOR_LIVENESS_PORT"]), 0).start()


def site(name: str, broker: Kafka) -> dict[str, Any]:
    return {
        "apiVersion": "gridwatch.io/v1alpha1",
        "kind": "EnergySite",
        "metadata": {"name": name},
        "spec": {
            "sensors": {"count": 20},
            "processor": {"replicas": 1},
            "api": {"replicas": 1},
            "kafka": {"bootstrapServers": broker.bootstrap, "partitions": 2},
        },
    }


def deployments(cluster: Cluster, name: str) -> dict[str, dict[str, Any]]:
    """uid, generation and replicas of the site's Deployments, by name."""
    return {
        d["metadata"]["name"]: {
            "uid": d["metadata"]["uid"],
            "generation": d["metadata"]["generation"],
            "replicas": d["spec"].get("replicas"),
        }
        for d in cluster.items("deployments", NS, f"app.kubernetes.io/instance={name}")
    }


def history(cluster: Cluster, name: str) -> list[tuple[int, str]]:
    """(revision, chart) of the release's helm history."""
    out = json.loads(cluster.helm("history", name, "-n", NS, "-o", "json").stdout)
    return [(int(r["revision"]), str(r["chart"])) for r in out]


def ready_at(cluster: Cluster, name: str, **status: Any) -> dict[str, Any] | None:
    """The site once Ready for its generation and with these status.upgrade fields, else None."""
    obj = cluster.site(name, NS)
    s = obj.get("status") or {}
    if condition(obj, "Ready").get("status") != "True" or s.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    upgrade = s.get("upgrade") or {}
    return obj if all(upgrade.get(k) == v for k, v in status.items()) else None


def patch(cluster: Cluster, name: str, body: dict[str, Any]) -> None:
    cluster.kubectl("patch", "energysite", name, "-n", NS, "--type=merge", "-p", json.dumps(body))


def test_upgrade_from_the_previous_release_keeps_sites_running_and_holds_their_chart_upgrade(
    plane: Cluster, previous: Path, e2e_kafka: Kafka, tmp_path: Path
) -> None:
    values = json.dumps({"watchNamespaces": [NS], "helmDriver": "configmap"})
    old_chart = previous / "charts" / "gridwatch-operator"
    plane.helm("install", OPERATOR_RELEASE, str(old_chart), "-n", OPERATOR_NAMESPACE, "--values", "-", stdin=values)
    plane.kubectl("wait", "--for=condition=Established", "crd/energysites.gridwatch.io", "--timeout=60s")
    kubeconfig = plane.token_kubeconfig(OPERATOR_SA, OPERATOR_NAMESPACE, tmp_path / "operator.kubeconfig")

    # --- the previous operator (its own source and chart) deploys three sites ------------------------------------
    old_env = operator_env(plane, kubeconfig, previous / "charts" / "energy-site")
    old_env["PYTHONPATH"] = str(previous / "operator" / "src")  # ahead of the working tree's editable install
    old = start(old_env, tmp_path / "old")
    try:
        for name in SITES:
            plane.apply(site(name, e2e_kafka), NS)
        for name in SITES:
            wait_until(partial(ready_at, plane, name), 120, f"{name} Ready under the previous operator")
        # The previous CRD prunes what it does not know: spec.upgrade does not exist yet.
        patch(plane, "approved", {"spec": {"upgrade": {"policy": "Manual"}}})
        assert "upgrade" not in plane.site("approved", NS)["spec"]
        wait_until(partial(ready_at, plane, "approved"), 120, "approved Ready at its generation")
    finally:
        old.stop()
    before = {name: deployments(plane, name) for name in SITES}
    assert all(len(d) == 3 for d in before.values()), before  # simulator, processor, api
    assert {name: history(plane, name) for name in SITES} == {n: [(1, "energy-site-0.1.0")] for n in SITES}

    # --- helm upgrade the operator chart to the working tree ---------------------------------------------------
    chart = str(REPO / "charts" / "gridwatch-operator")
    upgrade = ["upgrade", OPERATOR_RELEASE, chart, "-n", OPERATOR_NAMESPACE, "--values", "-"]
    refused = plane.helm(*upgrade, stdin=values, check=False)
    # the CRD came from crds/, so helm does not own it; docs/upgrading.md: --take-ownership, once
    assert refused.returncode != 0 and "invalid ownership metadata" in refused.stderr, refused.stderr
    plane.helm(*upgrade, "--take-ownership", stdin=values)
    crd = plane.get("crd", "energysites.gridwatch.io")
    assert crd is not None
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == OPERATOR_RELEASE
    plane.kubectl("wait", "--for=condition=Established", "crd/energysites.gridwatch.io", "--timeout=60s")

    # The new schema is served: spec.upgrade is accepted, defaulted and kept; its CEL rule is enforced.
    bad = {"spec": {"upgrade": {"policy": "Automatic", "chartVersion": "0.2.0"}}}
    proc = plane.kubectl(
        "patch", "energysite", "windowed", "-n", NS, "--type=merge", "-p", json.dumps(bad), check=False
    )
    assert proc.returncode != 0 and "upgrade.chartVersion approves a chart version" in proc.stderr, proc.stderr
    defaulted = plane.site("config", NS)["spec"]["upgrade"]
    assert defaulted == {"policy": "Inherit", "chartVersion": "", "maintenanceWindows": []}

    # --- the new operator, told to hold every chart upgrade (siteUpgrades.policy: Manual) ---------------------
    new_env = operator_env(
        plane,
        kubeconfig,
        REPO / "charts" / "energy-site",
        GRIDWATCH_OPERATOR_UPGRADE_POLICY="Manual",
        GRIDWATCH_OPERATOR_ROLLOUT_INTERVAL_SECONDS="2",
    )
    new = start(new_env, tmp_path / "new")
    assert f"chart {REPO / 'charts' / 'energy-site'}" in new.log()  # the working tree's operator and chart
    try:
        for name in SITES:
            waiting = partial(ready_at, plane, name, pending=True, reason="AwaitingApproval")
            held = wait_until(waiting, 120, f"{name} held")
            assert held["status"]["upgrade"]["runningChartVersion"] == "0.1.0"
            assert held["status"]["upgrade"]["availableChartVersion"] == "0.2.0"
            assert condition(held, "UpgradePending")["status"] == "True"
            # the site deployed by the previous operator keeps its identity (bare name), so its state stays put
            assert held["status"]["siteId"] == name
        assert {name: history(plane, name) for name in SITES} == {n: [(1, "energy-site-0.1.0")] for n in SITES}
        assert {name: deployments(plane, name) for name in SITES} == before  # not even a new generation

        # Approve one site: it moves to 0.2.0 with the same Deployment objects; the others stay.
        patch(plane, "approved", {"spec": {"upgrade": {"chartVersion": "0.2.0"}}})
        done = wait_until(lambda: ready_at(plane, "approved", pending=False), 120, "approved upgraded")
        assert done["spec"]["upgrade"] == {"policy": "Inherit", "chartVersion": "0.2.0", "maintenanceWindows": []}
        assert condition(done, "UpgradePending")["reason"] == "UpToDate"
        assert done["status"]["upgrade"]["runningChartVersion"] == "0.2.0"
        assert history(plane, "approved") == [(1, "energy-site-0.1.0"), (2, "energy-site-0.2.0")]
        after = deployments(plane, "approved")
        assert {n: d["uid"] for n, d in after.items()} == {n: d["uid"] for n, d in before["approved"].items()}
        assert {"ChartUpgraded"} <= {e["reason"] for e in plane.events("approved", NS)}

        # A config change on a held site applies at once, on the chart it runs.
        patch(plane, "config", {"spec": {"processor": {"replicas": 2}}})
        changed = wait_until(lambda: ready_at(plane, "config", pending=True), 120, "config change applied")
        assert changed["status"]["components"]["processor"] == {"desired": 2, "ready": 2}
        assert history(plane, "config") == [(1, "energy-site-0.1.0"), (2, "energy-site-0.1.0")]
        processor = {n: d for n, d in deployments(plane, "config").items() if n.endswith("-processor")}
        assert [d["replicas"] for d in processor.values()] == [2]
        assert {n: d["uid"] for n, d in deployments(plane, "config").items()} == {
            n: d["uid"] for n, d in before["config"].items()
        }

        # A window opening at the first full minute at least 75 s away: held until then, rolled out once open.
        opens = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=135)).replace(second=0, microsecond=0)
        window = {"schedule": f"{opens.minute} {opens.hour} * * *", "durationMinutes": 5}
        patch(plane, "windowed", {"spec": {"upgrade": {"policy": "Automatic", "maintenanceWindows": [window]}}})
        waiting = wait_until(
            lambda: ready_at(plane, "windowed", pending=True, reason="OutsideMaintenanceWindow"), 60, "window wait"
        )
        assert waiting["status"]["upgrade"]["nextWindow"] == opens.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert history(plane, "windowed") == [(1, "energy-site-0.1.0")]
        rolled = wait_until(lambda: ready_at(plane, "windowed", pending=False), 240, "the window's upgrade")
        assert dt.datetime.now(dt.UTC) >= opens
        assert rolled["status"]["upgrade"]["runningChartVersion"] == "0.2.0"
        assert history(plane, "windowed") == [(1, "energy-site-0.1.0"), (2, "energy-site-0.2.0")]
        assert {n: d["uid"] for n, d in deployments(plane, "windowed").items()} == {
            n: d["uid"] for n, d in before["windowed"].items()
        }
    finally:
        new.stop()
