"""Every workload's settings load from the environment the energy-site chart gives its container.

Read from real environment variables, as in the pod: pydantic-settings decodes list and dict fields as JSON before
any validator runs, so a value that only passes `model_validate` (e.g. a comma-separated list) still crashes the pod.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from gridwatch.alerting.settings import AlertSettings
from gridwatch.api.settings import ApiSettings
from gridwatch.common.settings import CommonSettings
from gridwatch.forecasting.settings import ForecasterSettings
from gridwatch.grid.settings import GridSettings
from gridwatch.history.settings import HistorySettings
from gridwatch.ingest.settings import IngestSettings
from gridwatch.processor.settings import ProcessorSettings
from gridwatch.rebalancer.settings import RebalancerSettings
from gridwatch.simulator.settings import SimulatorSettings
from gridwatch.storage.settings import StorageSettings

from tests.unit.charts.test_render import CHARTS, needs_helm, render

SETTINGS: dict[str, type[CommonSettings]] = {
    "simulator": SimulatorSettings,
    "processor": ProcessorSettings,
    "api": ApiSettings,
    "history": HistorySettings,
    "alerts": AlertSettings,
    "forecaster": ForecasterSettings,
    "storage": StorageSettings,
    "rebalancer": RebalancerSettings,
    "ingest": IngestSettings,
    "grid": GridSettings,
}
VALUES = sorted((CHARTS / "energy-site" / "ci").glob("*-values.yaml"))


def _container_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """envFrom ConfigMaps plus env values; a Secret or field reference stands in as a placeholder string."""
    config = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(config[source["configMapRef"]["name"]])
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = f"secret-{ref['name']}-{ref['key']}"
        elif "fieldRef" in var.get("valueFrom", {}):
            env[var["name"]] = "plant-north-pod"
    return env


def _mounted_file(value: str, mounts: list[str], root: Path) -> str:
    """A path into a mounted Secret becomes an empty file under root (settings check that such files exist)."""
    if not any(value.startswith(f"{mount}/") for mount in mounts):
        return value
    path = root / value.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return str(path)


@needs_helm
@pytest.mark.parametrize("values", VALUES, ids=[v.stem for v in VALUES])
def test_every_workload_loads_its_settings_from_the_rendered_env(
    values: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = render("energy-site", values)
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        component = container["args"][0]
        with monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("GRIDWATCH_")]:
                patch.delenv(name)
            mounts = [m["mountPath"] for m in container.get("volumeMounts") or []]
            for name, value in _container_env(objects, container).items():
                patch.setenv(name, _mounted_file(value, mounts, tmp_path))
            settings = SETTINGS[component]()
        assert settings.site == "gw.plant-north", component  # <namespace>.<name>: helm template -n gw
