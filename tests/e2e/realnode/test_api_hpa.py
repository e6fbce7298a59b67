"""The API's HorizontalPodAutoscaler against a real metrics-server on the real node (issue 18 §4).

metrics-server is built from the Go module proxy (tests/infra/k8s/build-metrics-server.sh), imported into the node's
containerd and deployed from tests/infra/k8s/metrics-server.yaml; it reads the kubelet's /metrics/resource. The
sample site is conftest's shared `site`: the test turns on spec.api.autoscaling (1-3 replicas, a low CPU target),
loads the API through its Service from the host until the HPA scales it up on the CPU metrics.k8s.io reports, stops
the load and waits for the scale back down (the chart's scale-down window is 15 s here, via siteValues), then turns
autoscaling off again. Times are printed, not asserted.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.cluster import Cluster, condition, wait_until
from tests.e2e.realnode.sample_site import API_HPA_SCALE_DOWN_SECONDS, SITE, SITE_NS, Site, dump
from tests.infra.controlplane import K8S_SCRIPTS, ControlPlane

BUILD = K8S_SCRIPTS / "build-metrics-server.sh"
MANIFEST = K8S_SCRIPTS / "metrics-server.yaml"
API = f"{SITE}-api"  # the chart's name for the API's Deployment and HPA (release named after the site)
TARGET_CPU = 50  # % of the API's 100m request
MAX_REPLICAS = 3
LOAD_CLIENTS = 4
LOAD_SECONDS = 240  # at most; the load stops as soon as the HPA has scaled up


def _metrics_server_dump(c: Cluster) -> str:
    out = [
        c.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "yaml", check=False).stdout[-3000:],
        c.kubectl("get", "pods", "-n", "kube-system", "-o", "wide", check=False).stdout,
        c.kubectl("logs", "-n", "kube-system", "deploy/metrics-server", "--tail=40", check=False).stdout[-6000:],
    ]
    return "\n".join(out)


@pytest.fixture(scope="module")
def metrics_server(real_plane: ControlPlane, real_cluster: Cluster) -> Iterator[Cluster]:
    """metrics-server on the real node, its APIService Available; all of it deleted afterwards."""
    c = real_cluster
    t0 = time.monotonic()
    built = subprocess.run(["bash", str(BUILD)], stdout=subprocess.PIPE, text=True, check=False, timeout=1500)
    assert built.returncode == 0, f"build-metrics-server.sh failed ({built.returncode})"
    version_dir = built.stdout.strip().splitlines()[-1]
    real_plane.ctr("images", "import", f"{version_dir}/metrics-server.oci.tar")
    (node,) = json.loads(c.kubectl("get", "nodes", "-l", "type=real", "-o", "json").stdout)["items"]
    manifest = MANIFEST.read_text().replace("@NODE@", node["metadata"]["name"])
    c.kubectl("apply", "-f", "-", stdin=manifest)
    try:

        def available() -> bool:
            svc = c.get("apiservice", "v1beta1.metrics.k8s.io")
            return svc is not None and condition(svc, "Available").get("status") == "True"

        try:
            wait_until(available, 120, "the metrics.k8s.io APIService Available", interval=1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_metrics_server_dump(c)}") from exc
        print(f"\n[realnode] metrics-server built/cached, imported and Available in {time.monotonic() - t0:.1f}s")
        yield c
    finally:
        c.kubectl("delete", "-f", "-", "--wait=true", "--timeout=60s", stdin=manifest, check=False, timeout=90)
        wait_until(lambda: c.get("apiservice", "v1beta1.metrics.k8s.io") is None, 30, "the APIService deleted")
        wait_until(lambda: not c.items("pods", "kube-system", "k8s-app=metrics-server"), 60, "metrics-server gone")


def _top(c: Cluster, *args: str) -> list[list[str]]:
    proc = c.kubectl("top", *args, "--no-headers", check=False)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr.strip())
    return [line.split() for line in proc.stdout.splitlines() if line.strip()]


def test_kubectl_top_reads_the_real_node(metrics_server: Cluster) -> None:
    c = metrics_server
    t0 = time.monotonic()

    # The kubelet's /metrics/resource has CPU once two samples exist: the first scrape after a pod starts has none.
    def both() -> list[list[str]]:
        pods = _top(c, "pods", "-n", "kube-system")
        names = [row[0] for row in pods]
        return pods if {n.split("-")[0] for n in names} >= {"coredns", "metrics"} else []

    pods = wait_until(both, 90, "kubectl top pods -n kube-system: CoreDNS and metrics-server", 2)
    print(f"\n[realnode] kubectl top pods answered {time.monotonic() - t0:.1f}s after the APIService was Available")
    by_pod = {row[0]: row for row in pods}
    for _name, cpu, memory in by_pod.values():
        assert cpu.endswith("m") and memory.endswith("Mi"), pods
        assert int(memory[:-2]) > 0, pods  # a real working set, from containerd's CRI stats
    (node,) = wait_until(lambda: _top(c, "node", "-l", "type=real"), 60, "kubectl top node (the real one)", 2)
    assert node[1].endswith("m") and int(node[1][:-1]) > 0, node  # CPU of the node's root cgroup
    print(f"[realnode] top pods: {pods}; top node: {node}")


@dataclass
class Load:
    """HTTP clients on the API's ClusterIP from the host, bounded in time; counts what they sent."""

    url: str
    seconds: float
    stop: threading.Event = field(default_factory=threading.Event)
    ok: int = 0
    failed: int = 0
    threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    # The whole live state of every sensor, serialized: the API's most CPU-bound read.
                    answer = client.get(f"{self.url}/api/v1/sensors", params={"limit": 500})
                    good = answer.status_code == 200
                except httpx.HTTPError:
                    good = False
                with self._lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failed += 1

    def start(self, clients: int) -> None:
        for _ in range(clients):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self.threads.append(thread)

    def end(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def _rescales(c: Cluster) -> list[str]:
    """The HPA controller's SuccessfulRescale events on the API's HPA, oldest first."""
    selector = f"involvedObject.name={API},involvedObject.kind=HorizontalPodAutoscaler,reason=SuccessfulRescale"
    proc = c.kubectl("get", "events", "-n", SITE_NS, "--field-selector", selector, "-o", "json")
    events = sorted(json.loads(proc.stdout)["items"], key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [str(e["message"]) for e in events]


def _patch_autoscaling(c: Cluster, autoscaling: dict[str, Any]) -> None:
    patch = {"spec": {"api": {"autoscaling": autoscaling}}}
    c.kubectl("patch", "energysite", SITE, "-n", SITE_NS, "--type=merge", "-p", json.dumps(patch))


def _cpu(hpa: dict[str, Any]) -> int | None:
    """The HPA's current average CPU utilization (% of requests), as the controller read it from metrics.k8s.io."""
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        if metric.get("type") == "Resource" and metric["resource"]["name"] == "cpu":
            value = metric["resource"]["current"].get("averageUtilization")
            return int(value) if value is not None else None
    return None


def test_api_hpa_scales_up_under_cpu_load_and_back_down(site: Site, metrics_server: Cluster) -> None:
    c = site.c
    wait_until(lambda: condition(c.site(SITE, SITE_NS), "Ready").get("status") == "True", 300, "Ready", 2)
    (deploy,) = c.items("deployments", SITE_NS, f"gridwatch.io/site={SITE},app.kubernetes.io/component=api")
    assert deploy["metadata"]["name"] == API and deploy["spec"]["replicas"] == 1
    t0 = time.monotonic()
    _patch_autoscaling(
        c,
        {"enabled": True, "minReplicas": 1, "maxReplicas": MAX_REPLICAS, "targetCPUUtilizationPercentage": TARGET_CPU},
    )
    load: Load | None = None
    try:
        hpa = wait_until(lambda: c.get("hpa", API, SITE_NS), 120, "the operator's upgrade to render the API's HPA", 1)
        print(f"\n[realnode] HPA rendered {time.monotonic() - t0:.1f}s after spec.api.autoscaling was enabled")
        assert hpa["spec"]["minReplicas"] == 1 and hpa["spec"]["maxReplicas"] == MAX_REPLICAS
        assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == API_HPA_SCALE_DOWN_SECONDS

        # Idle: the controller reads the API's CPU from metrics-server and keeps one replica.
        def idle() -> dict[str, Any] | None:
            hpa = c.get("hpa", API, SITE_NS) or {}
            status = hpa.get("status") or {}
            cpu = _cpu(hpa)
            if condition(hpa, "ScalingActive").get("status") != "True" or cpu is None:
                return None
            return hpa if cpu < TARGET_CPU and status.get("currentReplicas") == 1 else None

        try:
            hpa = wait_until(idle, 150, f"the HPA reading the idle API's CPU (< {TARGET_CPU}%) at 1 replica", 2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{c.kubectl('describe', 'hpa', API, '-n', SITE_NS).stdout}") from exc
        t_metrics = time.monotonic()
        print(f"[realnode] HPA has CPU metrics {t_metrics - t0:.1f}s after enabling: idle API at {_cpu(hpa)}%")

        load = Load(site.api_url(), LOAD_SECONDS)
        t_load = time.monotonic()
        load.start(LOAD_CLIENTS)
        peak: dict[str, int] = {"cpu": 0}

        def scaled_up() -> int:
            hpa = c.get("hpa", API, SITE_NS) or {}
            peak["cpu"] = max(peak["cpu"], _cpu(hpa) or 0)
            replicas = int((c.get("deployment", API, SITE_NS) or {})["spec"]["replicas"])
            return replicas if replicas > 1 else 0

        try:
            replicas = wait_until(scaled_up, LOAD_SECONDS, "the HPA to scale the API up under load", 2)
        except AssertionError as exc:
            describe = c.kubectl("describe", "hpa", API, "-n", SITE_NS).stdout
            raise AssertionError(f"{exc}\nrequests ok={load.ok} failed={load.failed}\n{describe}") from exc
        t_up = time.monotonic()
        hpa = c.get("hpa", API, SITE_NS) or {}
        assert 1 < replicas <= MAX_REPLICAS
        assert (_cpu(hpa) or 0) > TARGET_CPU or peak["cpu"] > TARGET_CPU, hpa.get("status")
        rescales = _rescales(c)
        assert any("cpu resource utilization" in m for m in rescales), rescales
        print(
            f"[realnode] scaled up to {replicas} replicas {t_up - t_load:.1f}s after the load started "
            f"(HPA CPU {_cpu(hpa)}%, peak seen {peak['cpu']}%, {load.ok} requests ok, {load.failed} failed): "
            f"{rescales}"
        )
        load.end()
        t_stop = time.monotonic()
        assert load.ok > 0, f"no request answered ({load.failed} failed)"

        def scaled_down() -> bool:
            return int((c.get("deployment", API, SITE_NS) or {})["spec"]["replicas"]) == 1

        try:
            wait_until(scaled_down, 240, "the HPA to scale the API back to 1 replica after the load", 2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{c.kubectl('describe', 'hpa', API, '-n', SITE_NS).stdout}") from exc
        t_down = time.monotonic()
        hpa = c.get("hpa", API, SITE_NS) or {}
        rescales = _rescales(c)
        assert any("below target" in m for m in rescales), rescales
        print(
            f"[realnode] scaled back to 1 replica {t_down - t_stop:.1f}s after the load stopped "
            f"(scale-down window {API_HPA_SCALE_DOWN_SECONDS}s; HPA CPU then {_cpu(hpa)}%)"
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump(c)}") from exc
    finally:
        if load is not None:
            load.end()
        # Back to the site as it was: no HPA, one API replica from spec.api.replicas.
        _patch_autoscaling(c, {"enabled": False})
        wait_until(lambda: c.get("hpa", API, SITE_NS) is None, 120, "the HPA removed by the operator's upgrade", 1)

        def one_api_pod() -> bool:
            deploy = c.get("deployment", API, SITE_NS) or {}
            pods = c.items("pods", SITE_NS, f"gridwatch.io/site={SITE},app.kubernetes.io/component=api")
            return deploy["spec"]["replicas"] == 1 and deploy["status"].get("readyReplicas") == 1 and len(pods) == 1

        wait_until(one_api_pod, 120, "the API back at one ready pod", 1)
        print(f"[realnode] API HPA test done in {time.monotonic() - t0:.1f}s (site restored)")
