"""The energy-site chart runs the storage optimizer and the grid rebalancer when storage is enabled, with the
battery, tariff, demand charge, flexible loads and time zone as their settings read them."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from gridwatch.common.assets import FlexibleLoadConfig
from gridwatch.rebalancer.settings import RebalancerSettings
from gridwatch.storage.settings import StorageSettings

from tests.unit.charts.test_render import CHARTS, HELM, needs_helm, render


def _config(objects: list[dict[str, Any]]) -> dict[str, str]:
    [cm] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")]
    data: dict[str, str] = cm["data"]
    return data


@needs_helm
def test_storage_values_add_the_optimizer_and_the_rebalancer() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "storage-values.yaml")
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    for component in ("storage", "rebalancer"):
        pod = deployments[f"plant-north-{component}"]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["args"] == [component]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = _config(objects)
    assert env["GRIDWATCH_TIMEZONE"] == "Europe/Berlin"
    assert env["GRIDWATCH_REBALANCER_DRY_RUN"] == "true"
    # the workloads' own settings accept what the chart renders
    prefixes = (
        "GRIDWATCH_ANALYTICS_BATTERY_",
        "GRIDWATCH_ANALYTICS_DEMAND",
        "GRIDWATCH_ANALYTICS_CARBON",
        "GRIDWATCH_ANALYTICS_TARIFF_",
        "GRIDWATCH_STORAGE_",
        "GRIDWATCH_TIMEZONE",
    )
    storage = StorageSettings.model_validate({k: v for k, v in env.items() if k.startswith(prefixes)})
    assert [(b.capacity_kwh, b.target) for b in storage.batteries] == [(600.0, 0.5)]
    assert storage.demand_charge_per_kw == 12.5 and storage.timezone == "Europe/Berlin"
    assert storage.day_ahead_adder_per_kwh == 0.12 and storage.carbon_weight_per_kg == 0.05
    assert storage.peak_price == 0.32  # the tariff's other fields keep their defaults beside the new ones
    loads = [FlexibleLoadConfig.model_validate(x) for x in json.loads(env["GRIDWATCH_ANALYTICS_FLEXIBLE_LOADS"])]
    assert [(f.name, f.protected) for f in loads] == [("kiln", False), ("cold-store", True)]
    assert RebalancerSettings.model_validate({"GRIDWATCH_REBALANCER_SOC_GUARD": env["GRIDWATCH_REBALANCER_SOC_GUARD"]})


@needs_helm
def test_default_values_run_neither() -> None:
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "default-values.yaml")
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert not {"plant-north-storage", "plant-north-rebalancer"} & names


@needs_helm
def test_schema_refuses_a_flexible_load_without_power() -> None:
    assert HELM is not None
    proc = subprocess.run(
        [HELM, "template", "x", str(CHARTS / "energy-site"), "--set", "analytics.flexibleLoads[0].name=kiln"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "powerKW" in proc.stderr
