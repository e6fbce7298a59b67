"""The trainer CronJob: rendered only with PostgreSQL, on the values' schedule, restricted like the Deployments."""

from __future__ import annotations

import subprocess

from tests.unit.charts.test_render import CHARTS, HELM, _restricted_violations, needs_helm, render

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
