"""Both charts render for every ci/*-values.yaml into objects that pass Pod Security "restricted" and carry
the app.kubernetes.io labels (rendered with the helm binary `make k8s` builds; no cluster needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.infra.controlplane import ControlPlane
from tests.unit.operator.test_crd import REPO

CHARTS = REPO / "charts"
CASES = [
    (chart.name, values)
    for chart in sorted(CHARTS.iterdir())
    for values in sorted((chart / "ci").glob("*-values.yaml"))
]


def _helm() -> str | None:
    built = ControlPlane().bin_dir / "helm"
    return str(built) if built.exists() else shutil.which("helm")


HELM = _helm()
needs_helm = pytest.mark.skipif(HELM is None, reason="helm is not built yet: run `make k8s`")


def render(chart: str, values: Path, *extra: str) -> list[dict[str, Any]]:
    assert HELM is not None
    out = subprocess.run(
        [HELM, "template", "plant-north", str(CHARTS / chart), "-n", "gw", "-f", str(values), *extra],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize(("chart", "values"), CASES, ids=[f"{c}-{v.stem}" for c, v in CASES])
def test_ci_values_match_the_chart_schema(chart: str, values: Path) -> None:
    schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
    merged = _merge(defaults, yaml.safe_load(values.read_text()) or {})
    assert [e.message for e in Draft7Validator(schema).iter_errors(merged)] == []
    assert [e.message for e in Draft7Validator(schema).iter_errors(defaults)] == []


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart's values.yaml."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(o["metadata"]["name"], o["spec"]["template"]["spec"]) for o in objects if o["kind"] == "Deployment"]


def _restricted_violations(name: str, pod: dict[str, Any]) -> list[str]:
    """The Pod Security "restricted" checks that apply to these pods."""
    problems = []
    psc = pod.get("securityContext") or {}
    for container in pod["containers"]:
        sc = container.get("securityContext") or {}
        where = f"{name}/{container['name']}"
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: capabilities.drop")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile")
        if sc.get("privileged") or container.get("ports", [{}])[0].get("hostPort"):
            problems.append(f"{where}: privileged or hostPort")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append(f"{name}: host namespaces")
    if any("hostPath" in v for v in pod.get("volumes") or []):
        problems.append(f"{name}: hostPath")
    return problems


@needs_helm
@pytest.mark.parametrize(("chart", "values"), CASES, ids=[f"{c}-{v.stem}" for c, v in CASES])
def test_rendered_objects_are_restricted_and_labelled(chart: str, values: Path) -> None:
    objects = render(chart, values)
    assert objects
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        labels = obj["metadata"].get("labels") or {}
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"):
            assert key in labels, f"{obj['kind']}/{obj['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/part-of"] == "gridwatch"
    violations = [p for name, pod in _pod_specs(objects) for p in _restricted_violations(name, pod)]
    assert violations == []


@needs_helm
def test_energy_site_workloads_run_the_one_image_with_probes() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "default-values.yaml")
    pods = dict(_pod_specs(objects))
    assert sorted(pods) == ["plant-north-api", "plant-north-processor", "plant-north-simulator"]
    for name, pod in pods.items():
        [container] = pod["containers"]
        component = name.rsplit("-", 1)[1]
        assert container["command"] == ["gridwatch"] and container["args"] == [component]
        assert container["image"] == "ghcr.io/gridwatch/gridwatch:0.1.0"
        probes = (container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"])
        assert probes == (("/livez", "/readyz") if component == "api" else ("/healthz", "/readyz"))
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert pod["automountServiceAccountToken"] is (component == "api")
    kinds = sorted({o["kind"] for o in objects})  # the Pod: the helm test hook (templates/tests/api-test.yaml)
    assert kinds == [
        "ConfigMap", "Deployment", "NetworkPolicy", "Pod", "PodDisruptionBudget", "Role", "RoleBinding",
        "Service", "ServiceAccount",
    ]  # fmt: skip


@needs_helm
def test_api_replicas_are_left_to_the_hpa_when_enabled() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "autoscaling-values.yaml")
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert "replicas" not in deployments["plant-north-api"]["spec"]
    assert deployments["plant-north-processor"]["spec"]["replicas"] == 3
    [hpa] = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "plant-north-api"
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300  # Kubernetes' own default


@needs_helm
def test_the_api_hpa_scale_down_window_is_a_value() -> None:
    values = CHARTS / "energy-site" / "ci" / "autoscaling-values.yaml"
    objects = render("energy-site", values, "--set", "api.autoscaling.scaleDownStabilizationSeconds=15")
    [hpa] = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 15


@needs_helm
def test_autoscaled_processors_are_rendered_without_replicas() -> None:
    # the operator's lag autoscaler owns them (scale subresource): a helm upgrade must neither set nor reset them
    values = CHARTS / "energy-site" / "ci" / "autoscaling-values.yaml"
    objects = render("energy-site", values, "--set", "processor.autoscaled=true", "--set", "processor.replicas=3")
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert "replicas" not in deployments["plant-north-processor"]["spec"]
    assert deployments["plant-north-simulator"]["spec"]["replicas"] == 1


@needs_helm
def test_the_chart_schema_refuses_bad_values() -> None:
    assert HELM is not None
    proc = subprocess.run(
        [HELM, "template", "x", str(CHARTS / "energy-site"), "--set", "sensors.count=0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "/sensors/count" in proc.stderr


@needs_helm
def test_operator_chart_is_one_recreated_replica_with_rbac_per_namespace() -> None:
    objects = render("gridwatch-operator", CHARTS / "gridwatch-operator" / "ci" / "namespaced-values.yaml")
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GRIDWATCH_OPERATOR_NAMESPACES"] == "plant-north,plant-south"
    bindings = sorted((o["kind"], o["metadata"].get("namespace", "")) for o in objects if "Binding" in o["kind"])
    assert bindings == [("RoleBinding", "plant-north")] * 2 + [("RoleBinding", "plant-south")] * 2
    rules = [r for o in objects if o["kind"] == "ClusterRole" for r in o["rules"]]
    # configmap driver: Secrets only read (`get`, the Kafka credentials an EnergySite references), never written
    assert [r["verbs"] for r in rules if "secrets" in r["resources"]] == [["get"]]
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)
    assert not any(r["apiGroups"] == [""] and "nodes" in r["resources"] for r in rules)


@needs_helm
@pytest.mark.parametrize(("chart", "values"), CASES, ids=[f"{c}-{v.stem}" for c, v in CASES])
def test_helm_lint_is_clean(chart: str, values: Path) -> None:
    assert HELM is not None
    proc = subprocess.run(
        [HELM, "lint", "--strict", str(CHARTS / chart), "-f", str(values)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout


@needs_helm
def test_postgres_adds_the_history_writer_and_the_alert_engine() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "secrets-values.yaml")
    pods = dict(_pod_specs(objects))
    assert sorted(pods) == [f"plant-north-{c}" for c in ("alerts", "api", "history", "processor", "simulator")]
    for component in ("history", "alerts"):
        [container] = pods[f"plant-north-{component}"]["containers"]
        assert container["args"] == [component]
        env = {e["name"]: e for e in container["env"]}
        assert env["GRIDWATCH_POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "site-postgres",
            "key": "password",
        }
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config["data"]["GRIDWATCH_POSTGRES_HOST"] == "postgres.data.svc"
    routes = json.loads(config["data"]["GRIDWATCH_ALERTS_ROUTES"])
    assert routes == [{"minSeverity": "critical", "name": "on-call", "urlEnv": "GRIDWATCH_ALERTS_ROUTE_ON_CALL_URL"}]


@needs_helm
def test_kafka_tls_and_sasl_reach_every_workload_from_secrets() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "secrets-values.yaml")
    pods = dict(_pod_specs(objects))
    assert pods
    for name, pod in pods.items():
        [container] = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["GRIDWATCH_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL", name
        assert env["GRIDWATCH_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["GRIDWATCH_KAFKA_SASL_USERNAME"]["value"] == "plant-north"
        assert env["GRIDWATCH_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "plant-north-kafka",
            "key": "password",
        }
        assert "value" not in env["GRIDWATCH_KAFKA_SASL_PASSWORD"]
        assert env["GRIDWATCH_KAFKA_SSL_CA_LOCATION"]["value"] == "/etc/gridwatch/kafka-ca/ca.crt"
        assert env["GRIDWATCH_KAFKA_SSL_KEY_LOCATION"]["value"] == "/etc/gridwatch/kafka-client/tls.key"
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["kafka-ca"] == "/etc/gridwatch/kafka-ca"
        assert mounts["kafka-client"] == "/etc/gridwatch/kafka-client"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "kafka-cluster-ca-cert"
        assert volumes["kafka-client"]["secret"]["secretName"] == "site-kafka-client"


@needs_helm
def test_plaintext_kafka_sets_no_security_variables() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "default-values.yaml")
    for _, pod in _pod_specs(objects):
        [container] = pod["containers"]
        assert not [e["name"] for e in container["env"] if e["name"].startswith("GRIDWATCH_KAFKA_S")]
        assert not [v for v in pod["volumes"] if v["name"].startswith("kafka-")]


@needs_helm
def test_sasl_without_a_password_secret_is_refused() -> None:
    assert HELM is not None
    out = subprocess.run(
        [HELM, "template", "x", str(CHARTS / "energy-site"), "--set", "kafka.sasl.enabled=true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0 and "/kafka/sasl/passwordSecret/name" in out.stderr


@needs_helm
def test_redis_credentials_come_from_the_secret_not_the_url() -> None:
    values = CHARTS / "energy-site" / "ci" / "secrets-values.yaml"
    objects = render("energy-site", values, "--set", "redis.username=gridwatch-app")
    for name, pod in _pod_specs(objects):
        [container] = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["GRIDWATCH_REDIS_URL"]["value"] == "rediss://redis.data.svc:6379/0", name
        assert env["GRIDWATCH_REDIS_USERNAME"]["value"] == "gridwatch-app"
        assert env["GRIDWATCH_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "site-redis", "key": "password"}
