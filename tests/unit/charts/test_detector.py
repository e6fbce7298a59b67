"""Processors follow the trained detector: spec -> operator values -> chart -> the processor's own settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch.processor.settings import ProcessorSettings
from gridwatch_operator.values import helm_values

from tests.unit.charts.test_render import needs_helm, render
from tests.unit.charts.test_workload_env import _container_env
from tests.unit.operator.test_crd import defaulted_spec

HISTORY = {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "site-postgres"}}


def processor_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **spec: Any) -> ProcessorSettings:
    """ProcessorSettings read from the environment the chart gives the processor of this EnergySite spec."""
    values = tmp_path / "values.yaml"
    full = defaulted_spec(spec)
    values.write_text(yaml.safe_dump(helm_values("plant-north", full, {}, default_image="img:1", namespace="gw")))
    objects = render("energy-site", values)
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    [container] = deployments["plant-north-processor"]["spec"]["template"]["spec"]["containers"]
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("GRIDWATCH_")]:
            patch.delenv(name)
        for name, value in _container_env(objects, container).items():
            patch.setenv(name, value)
        return ProcessorSettings()


@needs_helm
def test_a_site_with_history_serves_the_detector_the_trainer_promotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = processor_settings(tmp_path, monkeypatch, history=HISTORY)
    assert settings.forest == "auto" and settings.registry_detector
    assert settings.scoring_config().forest  # the forest stage runs (on the registry's forest once promoted)


@needs_helm
def test_without_history_or_with_trained_detector_false_the_processor_scores_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = processor_settings(tmp_path, monkeypatch)
    assert not alone.registry_detector and not alone.scoring_config().forest  # no registry: no per-replica fit
    off = processor_settings(tmp_path, monkeypatch, history=HISTORY, analytics={"anomaly": {"trainedDetector": False}})
    assert off.forest is False and not off.registry_detector and not off.scoring_config().forest
