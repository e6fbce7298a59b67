"""The trainer CronJob: rendered only with PostgreSQL, on the values' schedule, restricted like the Deployments;
spec.trainer reaches it through the operator's values."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from gridwatch_operator.values import helm_values

from tests.unit.charts.test_render import CHARTS, HELM, _restricted_violations, needs_helm, render
from tests.unit.operator.test_crd import defaulted_spec

SECRETS = CHARTS / "energy-site" / "ci" / "secrets-values.yaml"


def _cronjobs(*extra: str) -> list[dict[str, object]]:
    return [o for o in render("energy-site", SECRETS, *extra) if o["kind"] == "CronJob"]


@needs_helm
def test_trainer_cronjob_runs_gridwatch_train_on_the_schedule() -> None:
    [job] = _cronjobs("--set", "trainer.schedule=5 1 * * 0", "--set", "trainer.model=detector")
    spec = job["spec"]
    assert isinstance(spec, dict)
    assert spec["schedule"] == "5 1 * * 0" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["gridwatch"] and container["args"] == ["train", "--model", "detector"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["GRIDWATCH_POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "site-postgres"
    assert env["GRIDWATCH_TRAIN_PROMOTE_MARGIN"]["value"] == "0.02"
    assert _restricted_violations("trainer", pod) == []
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "trainer"  # type: ignore[index]


@needs_helm
def test_no_trainer_without_postgres_or_when_disabled() -> None:
    default = render("energy-site", CHARTS / "energy-site" / "ci" / "default-values.yaml")
    assert not [o for o in default if o["kind"] == "CronJob"]
    assert _cronjobs("--set", "trainer.enabled=false") == []


@needs_helm
def test_the_schema_refuses_an_unknown_model() -> None:
    assert HELM is not None
    proc = subprocess.run(
        [HELM, "template", "x", str(CHARTS / "energy-site"), "-f", str(SECRETS), "--set", "trainer.model=oracle"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "/trainer/model" in proc.stderr


def _site_cronjob(tmp_path: Path, **spec: Any) -> dict[str, Any]:
    """The trainer CronJob the real chart renders from the operator's values for an EnergySite spec."""
    history = {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "site-postgres"}}
    full = defaulted_spec({"history": history, **spec})
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(helm_values("plant-north", full, {}, default_image="img:1", namespace="gw")))
    jobs = [o for o in render("energy-site", values) if o["kind"] == "CronJob"]
    return jobs[0] if jobs else {}


@needs_helm
def test_spec_trainer_sets_the_cronjobs_schedule_zone_model_and_margin(tmp_path: Path) -> None:
    trainer = {"schedule": "*/30 2-4 * * MON-FRI", "model": "forecaster", "promoteMargin": 0.1, "autoPromote": False}
    job = _site_cronjob(tmp_path, trainer=trainer, timezone="Europe/Berlin")
    spec = job["spec"]
    assert (spec["schedule"], spec["timeZone"]) == ("*/30 2-4 * * MON-FRI", "Europe/Berlin")  # the site's zone
    [container] = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["train", "--model", "forecaster"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["GRIDWATCH_TRAIN_PROMOTE_MARGIN"], env["GRIDWATCH_TRAIN_AUTO_PROMOTE"]) == ("0.1", "false")


@needs_helm
def test_an_empty_spec_trains_everything_nightly_and_trainer_enabled_false_removes_it(tmp_path: Path) -> None:
    spec = _site_cronjob(tmp_path)["spec"]
    assert (spec["schedule"], spec["timeZone"]) == ("17 3 * * *", "UTC")
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "all"
    assert _site_cronjob(tmp_path, trainer={"enabled": False}) == {}


@needs_helm
def test_the_chart_takes_every_schedule_the_crd_takes(tmp_path: Path) -> None:
    for schedule in ("@hourly", "@daily", "0 0 1 jan,Jul sun"):  # the chart's schema once wanted 9+ characters
        assert _site_cronjob(tmp_path, trainer={"schedule": schedule})["spec"]["schedule"] == schedule
