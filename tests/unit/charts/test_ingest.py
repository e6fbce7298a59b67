"""The energy-site chart runs `gridwatch ingest` (HTTP, MQTT bridge) and `gridwatch grid` when enabled, with
settings the workloads accept, Secrets as env refs or mounted files, and probes on their HTTP ports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch.grid.settings import GridSettings
from gridwatch.ingest.settings import IngestSettings

from tests.infra.controlplane import ControlPlane
from tests.unit.operator.test_crd import REPO

CHART = REPO / "charts" / "energy-site"
_BUILT = ControlPlane().bin_dir / "helm"
HELM = str(_BUILT) if _BUILT.exists() else shutil.which("helm")
needs_helm = pytest.mark.skipif(HELM is None, reason="helm is not built yet: run `make k8s`")


def _helm(values: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    args = [HELM, "template", "plant-north", str(CHART), "-n", "gw", "-f", str(values), *extra]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def _objects(values: Path, *extra: str) -> dict[tuple[str, str], dict[str, Any]]:
    proc = _helm(values, *extra)
    assert proc.returncode == 0, proc.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(proc.stdout) if d}


def _env(container: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: Secret refs resolved, $(VAR) substituted."""
    out: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            out[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group(0)), var["value"])
        elif "secretKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["secretKeyRef"]
            out[var["name"]] = secrets[f"{ref['name']}/{ref['key']}"]
    return out


def _from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith("GRIDWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


INGEST = CHART / "ci" / "ingest-values.yaml"
SECRETS = {
    "site-postgres/password": "pg",
    "site-mqtt/password": "mqtt-pw",
    "site-grid/token": "grid-token",
    "site-entsoe/token": "entsoe-token",
}


@needs_helm
def test_ingest_runs_http_and_mqtt_with_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _objects(INGEST)
    pod = objects[("Deployment", "plant-north-ingest")]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["ingest"]
    assert [p["containerPort"] for p in container["ports"]] == [8010]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["ingest-tokens"]["secret"]["secretName"] == "site-gateways"
    assert "subPath" not in str(container["volumeMounts"])  # a subPath mount would never see a rotated token
    config = objects[("ConfigMap", "plant-north-config")]["data"]
    _from_env(monkeypatch, {**config, **_env(container, SECRETS)})
    settings = IngestSettings()
    assert settings.tokens_file == Path(mounts["ingest-tokens"]) / "tokens"
    assert settings.mqtt_ca_file == Path(mounts["mqtt-ca"]) / "ca.crt"
    assert (settings.mqtt_enabled, settings.mqtt_tls, settings.mqtt_host, settings.mqtt_port) == (
        True,
        True,
        "mosquitto.mqtt.svc",
        8883,
    )
    assert settings.mqtt_password.get_secret_value() == "mqtt-pw"
    assert settings.site == "gw.plant-north" and settings.port == 8010  # namespace-qualified identity
    assert settings.postgres_conninfo  # the sensor registry lives in PostgreSQL
    service = objects[("Service", "plant-north-ingest")]["spec"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["ports"]] == [("http", 80, "http")]
    policy = objects[("NetworkPolicy", "plant-north-ingest")]["spec"]["ingress"]
    assert policy == [{"ports": [{"port": "http", "protocol": "TCP"}], "from": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}]


@needs_helm
def test_grid_gets_its_sources_and_tokens_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _objects(INGEST)
    [container] = objects[("Deployment", "plant-north-grid")]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["grid"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    config = objects[("ConfigMap", "plant-north-config")]["data"]
    assert "entsoe-token" not in str(objects)  # only references to Secrets are rendered
    _from_env(monkeypatch, {**config, **_env(container, SECRETS)})
    settings = GridSettings()
    assert [(s.name, s.adapter, s.interval_s) for s in settings.sources] == [
        ("carbon", "gb-carbon-intensity", 1800.0),
        ("entsoe-de", "entsoe", 900.0),
    ]
    entsoe = settings.sources[1]
    assert (entsoe.region, entsoe.document_types, entsoe.token.get_secret_value()) == (
        "10Y1001A1001A82H",
        ["A44"],
        "entsoe-token",
    )
    assert settings.autostart and settings.token.get_secret_value() == "grid-token"


@needs_helm
def test_ingest_without_http_probes_on_the_metrics_port() -> None:
    objects = _objects(INGEST, "--set", "ingest.http.enabled=false")
    [container] = objects[("Deployment", "plant-north-ingest")]["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert {"name": "GRIDWATCH_METRICS_PORT", "value": "9100"} in container["env"]
    assert [p["name"] for p in objects[("Service", "plant-north-ingest")]["spec"]["ports"]] == ["metrics"]


@needs_helm
def test_default_values_run_neither() -> None:
    names = {name for kind, name in _objects(CHART / "ci" / "default-values.yaml") if kind == "Deployment"}
    assert not {"plant-north-ingest", "plant-north-grid"} & names


@needs_helm
def test_schema_refuses_two_mqtt_replicas_and_an_unknown_adapter() -> None:
    two = _helm(INGEST, "--set", "ingest.replicas=2")
    assert two.returncode != 0 and "replicas" in two.stderr
    assert _helm(INGEST, "--set", "ingest.mqtt.enabled=false", "--set", "ingest.replicas=2").returncode == 0
    bad = _helm(INGEST, "--set", "grid.sources[0].adapter=elexon")
    assert bad.returncode != 0 and "adapter" in bad.stderr
