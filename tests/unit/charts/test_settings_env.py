"""Every variable the chart renders is one a workload reads, and the forecaster's and trainer's come from the CRD.

pydantic-settings ignores variables it does not know, so a misspelt name in the chart would silently leave a
workload on its default: each name the chart sets is checked against the settings objects' own field names, and
the EnergySite's forecasting fields are followed from the spec through the operator and the chart to the values
ForecasterSettings and TrainerSettings read in the pods.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch.common.settings import CommonSettings
from gridwatch.forecasting.settings import ForecasterSettings
from gridwatch.simulator.site_assets import AssetSettings
from gridwatch.training.settings import TrainerSettings
from gridwatch_operator.values import helm_values
from pydantic_settings import BaseSettings

from tests.unit.charts.test_render import needs_helm, render
from tests.unit.charts.test_workload_env import SETTINGS, VALUES, _container_env
from tests.unit.operator.test_crd import defaulted_spec
from tests.unit.test_configuration_docs import settings_classes

READERS: dict[str, type[CommonSettings]] = {**SETTINGS, "train": TrainerSettings}


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {field.alias or f"{prefix}{name}".upper() for name, field in cls.model_fields.items()}


def containers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The workload container of every Deployment and CronJob, by the workload it runs (its first argument)."""
    out: dict[str, dict[str, Any]] = {}
    for o in objects:
        if o["kind"] == "Deployment":
            pod = o["spec"]["template"]["spec"]
        elif o["kind"] == "CronJob":
            pod = o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        else:
            continue
        (container,) = pod["containers"]
        out[container["args"][0]] = container
    return out


@needs_helm
@pytest.mark.parametrize("values", VALUES, ids=[v.stem for v in VALUES])
def test_every_rendered_variable_is_read_by_the_workload_it_is_given_to(values: Path) -> None:
    objects = render("energy-site", values)
    classes: list[type[BaseSettings]] = [*settings_classes(), AssetSettings]
    everyone = set().union(*(env_names(cls) for cls in classes))
    [config] = [o["data"] for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")]
    assert sorted(set(config) - everyone) == []  # the shared ConfigMap: each key read by some workload
    unread: list[str] = []
    for component, container in containers(objects).items():
        reads = env_names(READERS[component])
        env = _container_env(objects, container)
        given = [var["name"] for var in container.get("env") or []]
        # a per-route or per-source Secret variable is read by the name its route or source names in a value
        named = {name for name in given if any(name in value for value in env.values())}
        unread += [
            f"{component}: {name}"
            for name in given
            if name.startswith("GRIDWATCH_") and name not in reads and name not in named
        ]
        own = {"forecaster": "GRIDWATCH_FORECAST_", "train": "GRIDWATCH_TRAIN_"}.get(component)
        if own:  # its own family in the ConfigMap, too
            unread += [f"{component}: {name}" for name in config if name.startswith(own) and name not in reads]
    assert unread == []


def pod_settings(objects: list[dict[str, Any]], component: str, monkeypatch: pytest.MonkeyPatch) -> CommonSettings:
    """The settings object `component` builds from the environment the chart gives its container."""
    container = containers(objects)[component]
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("GRIDWATCH_")]:
            patch.delenv(name)
        for name, value in _container_env(objects, container).items():
            patch.setenv(name, value)
        return READERS[component]()


@needs_helm
def test_the_crds_forecasting_fields_are_what_the_forecaster_and_the_trainer_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = defaulted_spec(
        {
            "history": {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "site-postgres"}},
            "forecaster": {"enabled": True, "stepMinutes": 30, "historyDays": 9, "machines": False},
            "analytics": {"forecastHorizonMinutes": 2880},
            "trainer": {"promoteMargin": 0.07, "autoPromote": False, "detectorHours": 12},
        }
    )
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(helm_values("plant-north", spec, {}, default_image="img:1", namespace="gw")))
    objects = render("energy-site", values)
    forecaster = pod_settings(objects, "forecaster", monkeypatch)
    trainer = pod_settings(objects, "train", monkeypatch)
    assert isinstance(forecaster, ForecasterSettings) and isinstance(trainer, TrainerSettings)
    got = (forecaster.step_minutes, forecaster.horizon_minutes, forecaster.history_days, forecaster.machines)
    assert got == (30, 2880, 9, False)
    # the trainer backtests on the forecaster's step, horizon and window, so it trains what the forecaster serves
    assert (trainer.step_minutes, trainer.horizon_minutes, trainer.history_days) == (30, 2880, 9)
    assert (trainer.promote_margin, trainer.auto_promote, trainer.detector_hours) == (0.07, False, 12.0)
    assert forecaster.site == trainer.site == "gw.plant-north"
