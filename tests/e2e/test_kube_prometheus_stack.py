"""A default kube-prometheus-stack selects Gridwatch's monitors only through monitoring.selectorLabels.

The real prometheus-operator (built from the Go module proxy by tests/infra/k8s/build-prometheus-operator.sh) runs
against the test control plane with a Prometheus resource configured as kube-prometheus-stack's defaults are
(`serviceMonitorSelector`, `podMonitorSelector` and `ruleSelector` matching `release: kps`, every namespace).
The operator chart is installed with `monitoring.selectorLabels.release=kps`, and two site releases with the
values the Gridwatch operator computes for them: one from that operator's settings (read from the Deployment's
environment), one from an operator without the setting. prometheus-operator must then generate a Prometheus
configuration whose scrape jobs are the labelled site's ServiceMonitor endpoints and the operator's, never the
unlabelled site's, and rule files holding the labelled site's PrometheusRule only. The generated scrape jobs keep
the labels the alert rules expect (`job` = component, `site`, `component`, `pod`), and a real Prometheus evaluates
the generated rule file with every rule healthy. (Debian's Prometheus is built without Kubernetes discovery, so it
does not run the generated scrape jobs themselves.)
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch.local.process import free_port, stop_process
from gridwatch_operator.settings import GridwatchOperatorSettings
from gridwatch_operator.site import site_values

from tests.e2e.cluster import REPO, Cluster, wait_until
from tests.infra.controlplane import ControlPlane
from tests.infra.services import Prometheus
from tests.unit.operator.fakes import runtime

BUILD = REPO / "tests" / "infra" / "k8s" / "build-prometheus-operator.sh"
MONITORING_NS = "kps-monitoring"
OPERATOR_NS = "kps-gridwatch"
SITE_NS = "kps-sites"
LABELLED, UNLABELLED = "plant-a", "plant-b"
PROMETHEUS = "kps"
SELECTOR = {"matchLabels": {"release": PROMETHEUS}}
# Not the session operator's release name: the operator chart's ClusterRoles are named after the release, and the
# session fixture (tests/e2e/conftest.py) installs `gridwatch-operator` on the same control plane.
OPERATOR_RELEASE = "gridwatch-operator-kps"


@pytest.fixture(scope="module")
def promop_dir() -> Path:
    """bin/prometheus-operator and crds/ of the cached build (built on first use)."""
    proc = subprocess.run([str(BUILD)], capture_output=True, text=True, check=False, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def kps(control_plane: ControlPlane, promop_dir: Path, e2e_dir: Path) -> Iterator[Cluster]:
    """The plane with prometheus-operator's CRDs, prometheus-operator itself and a kube-prometheus-stack Prometheus."""
    cluster = Cluster(control_plane)
    cluster.kubectl("apply", "--server-side", "-f", str(promop_dir / "crds"))
    for crd in ("servicemonitors", "podmonitors", "prometheusrules", "prometheuses"):
        # right after the apply the CRD may have no conditions yet, which `kubectl wait` takes for an error
        wait_until(partial(_established, cluster, crd), 60, f"CRD {crd}.monitoring.coreos.com to be established")
    for ns in (MONITORING_NS, OPERATOR_NS, SITE_NS):
        cluster.namespace(ns, restricted=ns != MONITORING_NS)
    pki = control_plane.workdir / "pki"
    log = (e2e_dir / "prometheus-operator.log").open("ab")
    proc = subprocess.Popen(
        [
            str(promop_dir / "bin" / "prometheus-operator"),
            f"--apiserver={_server(control_plane)}",
            f"--ca-file={pki / 'ca.crt'}",
            f"--cert-file={pki / 'admin.crt'}",
            f"--key-file={pki / 'admin.key'}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
            f"--namespaces={MONITORING_NS},{OPERATOR_NS},{SITE_NS}",
            "--log-level=info",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # kube-prometheus-stack's default Prometheus: its monitors and rules must carry release=<its release>
        cluster.apply(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "Prometheus",
                "metadata": {"name": PROMETHEUS, "namespace": MONITORING_NS},
                "spec": {
                    "version": _prometheus_version(),
                    "serviceMonitorSelector": SELECTOR,
                    "serviceMonitorNamespaceSelector": {},
                    "podMonitorSelector": SELECTOR,
                    "podMonitorNamespaceSelector": {},
                    "ruleSelector": SELECTOR,
                    "ruleNamespaceSelector": {},
                },
            }
        )
        yield cluster
    finally:
        stop_process(proc)
        log.close()


def _established(cluster: Cluster, crd: str) -> bool:
    name = f"crd/{crd}.monitoring.coreos.com"
    return cluster.kubectl("wait", "--for=condition=Established", name, "--timeout=10s", check=False).returncode == 0


def _server(plane: ControlPlane) -> str:
    config = yaml.safe_load(plane.kubeconfig.read_text())
    return str(config["clusters"][0]["cluster"]["server"])


def _prometheus_version() -> str:
    """The version of the Prometheus this test runs, so prometheus-operator generates a config it reads."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    return "v" + out.stdout.split()[2].split("+")[0]


def _install(cluster: Cluster, release: str, chart: str, namespace: str, values: dict[str, Any]) -> None:
    cluster.helm(
        "upgrade", "--install", release, str(REPO / "charts" / chart), "-n", namespace, "--values", "-",
        stdin=json.dumps(values),
    )  # fmt: skip


def _operator_env(cluster: Cluster) -> dict[str, str]:
    (deployment,) = cluster.items("deployments", OPERATOR_NS)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.fixture(scope="module")
def installed(kps: Cluster, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """The operator chart with the selector labels, a site with the values that operator gives it, one without;
    uninstalled afterwards, so the e2e tests after this module find the plane as they expect it."""
    _install(kps, OPERATOR_RELEASE, "gridwatch-operator", OPERATOR_NS, {
        "watchNamespaces": [SITE_NS],
        "monitoring": {"selectorLabels": {"release": PROMETHEUS}},
        "crds": {"create": False},  # the EnergySite CRD is not needed here (and may belong to another release)
    })  # fmt: skip
    rt = runtime()
    spec = {"sensors": {"count": 10}, "kafka": {"bootstrapServers": "kafka.invalid:9092"}}
    rt.settings = GridwatchOperatorSettings()  # an operator installed without the setting
    _install(kps, UNLABELLED, "energy-site", SITE_NS, site_values(rt, UNLABELLED, SITE_NS, spec, {}))
    for name, value in _operator_env(kps).items():
        if name.startswith("GRIDWATCH_OPERATOR_MONITORING"):
            monkeypatch_module.setenv(name, value)
    rt.settings = GridwatchOperatorSettings()  # the installed operator's settings, from its Deployment's environment
    assert rt.settings.monitoring_selector_labels == {"release": PROMETHEUS}
    _install(kps, LABELLED, "energy-site", SITE_NS, site_values(rt, LABELLED, SITE_NS, spec, {}))
    try:
        yield kps
    finally:
        for release, ns in ((LABELLED, SITE_NS), (UNLABELLED, SITE_NS), (OPERATOR_RELEASE, OPERATOR_NS)):
            kps.helm("uninstall", release, "-n", ns, "--wait", "--timeout", "60s", check=False, timeout=90)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _generated_config(cluster: Cluster) -> dict[str, Any]:
    secret = cluster.get("secret", f"prometheus-{PROMETHEUS}", MONITORING_NS)
    assert secret is not None, "prometheus-operator has not generated the configuration yet"
    text = gzip.decompress(base64.b64decode(secret["data"]["prometheus.yaml.gz"])).decode()
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def _jobs(config: dict[str, Any]) -> set[str]:
    return {str(job["job_name"]) for job in config.get("scrape_configs") or []}


def _monitors(cluster: Cluster, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for ns in (OPERATOR_NS, SITE_NS):
        for item in cluster.items(kind, ns):
            found[(ns, item["metadata"]["labels"].get("app.kubernetes.io/instance", ""))] = item
    return found


def _rule_files(cluster: Cluster) -> dict[str, str]:
    files: dict[str, str] = {}
    for cm in cluster.items("configmaps", MONITORING_NS, selector=f"prometheus-name={PROMETHEUS}"):
        files.update(cm.get("data") or {})
    return files


def test_prometheus_selects_the_labelled_site_and_the_operator_only(installed: Cluster, tmp_path: Path) -> None:
    monitors = _monitors(installed, "servicemonitors")
    site_sm = monitors[(SITE_NS, LABELLED)]
    other_sm = monitors[(SITE_NS, UNLABELLED)]
    operator_sm = monitors[(OPERATOR_NS, OPERATOR_RELEASE)]
    assert site_sm["metadata"]["labels"]["release"] == operator_sm["metadata"]["labels"]["release"] == PROMETHEUS
    assert "release" not in other_sm["metadata"]["labels"]

    def name(sm: dict[str, Any], i: int) -> str:
        return f"serviceMonitor/{sm['metadata']['namespace']}/{sm['metadata']['name']}/{i}"

    wanted = {name(site_sm, i) for i in range(len(site_sm["spec"]["endpoints"]))} | {name(operator_sm, 0)}

    def selected() -> set[str] | None:
        jobs = _jobs(_generated_config(installed))
        return jobs if wanted <= jobs else None

    jobs = wait_until(selected, 120, "prometheus-operator to generate scrape jobs for the labelled monitors")
    assert not {j for j in jobs if j.startswith(f"serviceMonitor/{SITE_NS}/{other_sm['metadata']['name']}/")}
    assert {j for j in jobs if j.startswith("serviceMonitor/")} == wanted

    # the rules: the labelled site's PrometheusRule is in the generated rule files, the unlabelled one's is not
    rules = _monitors(installed, "prometheusrules")
    site_rule, other_rule = rules[(SITE_NS, LABELLED)], rules[(SITE_NS, UNLABELLED)]

    def rule_file() -> dict[str, str] | None:
        files = _rule_files(installed)
        return files if any(site_rule["metadata"]["uid"] in key for key in files) else None

    files = wait_until(rule_file, 120, "prometheus-operator to put the labelled PrometheusRule into its rule files")
    assert not [key for key in files if other_rule["metadata"]["uid"] in key]
    (text,) = [v for k, v in files.items() if site_rule["metadata"]["uid"] in k]
    alerts = {r["alert"] for g in yaml.safe_load(text)["groups"] for r in g["rules"]}
    assert {"ProcessorDown", "EnergySiteNoData", "HistoryWriterLagging"} <= alerts


def _relabelings(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("relabel_configs") or [])


def test_the_generated_jobs_keep_our_labels_and_a_real_prometheus_evaluates_the_generated_rules(
    installed: Cluster, tmp_path: Path
) -> None:
    """Debian's Prometheus has no Kubernetes discovery, so the scrape jobs are checked as generated; the rule
    file prometheus-operator generated from the site's PrometheusRule runs in a real Prometheus."""
    test_prometheus_selects_the_labelled_site_and_the_operator_only(installed, tmp_path)
    config = _generated_config(installed)
    site_jobs = [j for j in config["scrape_configs"] if str(j["job_name"]).startswith(f"serviceMonitor/{SITE_NS}/")]
    assert site_jobs
    for job in site_jobs:
        assert job["honor_labels"] is True, job["job_name"]
        relabel = _relabelings(job)
        # only the release's Services (the ServiceMonitor's selector), in the site's namespace
        kept = [r for r in relabel if r.get("action") == "keep"]
        assert any("app_kubernetes_io_instance" in ",".join(r.get("source_labels", [])) for r in kept), kept
        assert [sd["namespaces"]["names"] for sd in job["kubernetes_sd_configs"]] == [[SITE_NS]]
        targets = {r.get("target_label") for r in relabel}
        assert {"job", "site", "component", "pod"} <= targets, job["job_name"]
        # the operator first names the job after the Service, then jobLabel's rule replaces it: the last one wins
        job_rules = [r for r in relabel if r.get("target_label") == "job"]
        assert job_rules[-1]["source_labels"] == ["__meta_kubernetes_service_label_app_kubernetes_io_component"]

    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    for key, text in _rule_files(installed).items():
        (rule_dir / key).write_text(text)
    files = sorted(rule_dir.glob("*.yaml"))
    prometheus = Prometheus(tmp_path / "prometheus", rule_files=files, scrape_interval="1s")
    check = prometheus.check_rules(*files)
    assert check.returncode == 0, check.stdout + check.stderr
    prometheus.start()
    try:

        def evaluated() -> list[dict[str, Any]] | None:
            status, body = prometheus._get("/api/v1/rules", timeout=5)
            groups = json.loads(body)["data"]["groups"] if status == 200 else []
            rules = [r for g in groups for r in g["rules"]]
            done = rules and all(not str(r.get("lastEvaluation", "0001-")).startswith("0001-") for r in rules)
            return rules if done else None

        rules = wait_until(evaluated, 90, "Prometheus to evaluate every generated rule")
        assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
        assert {r["name"] for r in rules} >= {"ProcessorDown", "EnergySiteDegraded", "AlertOutboxBacklog"}
    finally:
        prometheus.stop()
