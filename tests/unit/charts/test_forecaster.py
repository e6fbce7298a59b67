"""The energy-site chart runs the load forecaster when it is enabled and the site has history, with the step,
history window and horizon as the forecaster's settings read them."""

from __future__ import annotations

from typing import Any

from gridwatch.forecasting.settings import ForecasterSettings

from tests.unit.charts.test_render import CHARTS, needs_helm, render

VALUES = CHARTS / "energy-site" / "ci" / "forecaster-values.yaml"


def _deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}


@needs_helm
def test_forecaster_values_add_the_forecaster_with_its_settings() -> None:
    objects = render("energy-site", VALUES)
    pod = _deployments(objects)["plant-north-forecaster"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["forecaster"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env_from = {e["name"]: e.get("valueFrom") for e in container["env"]}
    assert env_from["GRIDWATCH_POSTGRES_PASSWORD"] == {"secretKeyRef": {"name": "plant-north-pg", "key": "password"}}
    [cm] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")]
    env = {k: v for k, v in cm["data"].items() if k.startswith(("GRIDWATCH_FORECAST_", "GRIDWATCH_ANALYTICS_FORECAST"))}
    settings = ForecasterSettings.model_validate(env)
    assert (settings.step_minutes, settings.history_days, settings.machines) == (30, 14, False)
    assert settings.horizon_minutes == 2880


@needs_helm
def test_no_forecaster_without_history_or_by_default() -> None:
    default = render("energy-site", CHARTS / "energy-site" / "ci" / "default-values.yaml")
    assert "plant-north-forecaster" not in _deployments(default)
    no_history = render("energy-site", VALUES, "--set", "history.enabled=false")
    assert "plant-north-forecaster" not in _deployments(no_history)
