"""Least privilege in the chart: each workload's own PostgreSQL role from a Secret, and `gridwatch migrate` as the
owner in a pre-install/pre-upgrade hook Job that grants exactly the roles the workloads use."""

from __future__ import annotations

from typing import Any

from tests.unit.charts.test_render import CHARTS, _restricted_violations, needs_helm, render

ROLES = CHARTS / "energy-site" / "ci" / "postgres-roles-values.yaml"


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@needs_helm
def test_each_workload_logs_in_as_its_own_role() -> None:
    objects = render("energy-site", ROLES)
    pods = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"}
    for component, user, secret, key in (
        ("history", "gw_history", "site-postgres-history", "password"),
        ("alerts", "gw_alerts", "site-postgres-alerts", "password"),
        ("api", "gw_api", "site-postgres-api", "pw"),
        ("processor", "gw_processor", "site-postgres-processor", "password"),
    ):
        env = _env(pods[f"plant-north-{component}"]["containers"][0])
        assert env["GRIDWATCH_POSTGRES_USER"] == user, component
        assert env["GRIDWATCH_POSTGRES_PASSWORD"] == {"secretKeyRef": {"name": secret, "key": key}}, component
    simulator = _env(pods["plant-north-simulator"]["containers"][0])
    assert "GRIDWATCH_POSTGRES_PASSWORD" not in simulator  # never uses PostgreSQL, gets no password
    [cron] = [o for o in objects if o["kind"] == "CronJob"]
    trainer = _env(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])
    assert trainer["GRIDWATCH_POSTGRES_USER"] == "gw_trainer"


@needs_helm
def test_the_owner_migrates_in_a_hook_job_before_install_and_upgrade() -> None:
    [job] = [o for o in render("energy-site", ROLES) if o["kind"] == "Job"]
    assert job["metadata"]["name"] == "plant-north-migrate"
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["gridwatch"] and container["args"] == ["migrate"]
    assert "envFrom" not in container  # hooks run before the release's ConfigMap exists
    env = _env(container)
    assert env["GRIDWATCH_POSTGRES_USER"] == "gridwatch_owner"
    assert env["GRIDWATCH_POSTGRES_HOST"] == "postgres.data.svc"
    assert env["GRIDWATCH_POSTGRES_PASSWORD"] == {"secretKeyRef": {"name": "site-postgres-owner", "key": "password"}}
    assert env["GRIDWATCH_POSTGRES_ROLES"] == (
        "alerts=gw_alerts,api=gw_api,history=gw_history,processor=gw_processor,trainer=gw_trainer"
    )
    assert env["GRIDWATCH_SITE"] == "gw.plant-north"
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod  # the release's ServiceAccount does not exist yet at pre-install
    assert _restricted_violations("migrate", pod) == []


@needs_helm
def test_no_job_without_postgres_or_when_disabled() -> None:
    assert not [
        o for o in render("energy-site", CHARTS / "energy-site" / "ci" / "default-values.yaml") if o["kind"] == "Job"
    ]
    assert not [o for o in render("energy-site", ROLES, "--set", "history.migrate.enabled=false") if o["kind"] == "Job"]
    objects = render("energy-site", CHARTS / "energy-site" / "ci" / "secrets-values.yaml")
    [job] = [o for o in objects if o["kind"] == "Job"]  # no roles: migrations only, every workload as the owner
    assert _env(job["spec"]["template"]["spec"]["containers"][0])["GRIDWATCH_POSTGRES_ROLES"] == ""


@needs_helm
def test_the_operator_may_create_every_kind_the_site_chart_renders() -> None:
    """The operator installs the site chart with its own rights: the migrate Job and the trainer's CronJob too."""
    site = [
        o for o in render("energy-site", ROLES) if o["metadata"].get("annotations", {}).get("helm.sh/hook") != "test"
    ]
    kinds = {(o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else "", o["kind"]) for o in site}
    operator = render("gridwatch-operator", CHARTS / "gridwatch-operator" / "ci" / "namespaced-values.yaml")
    rules = [r for o in operator if o["kind"] == "ClusterRole" for r in o["rules"]]
    plural = {
        "Job": "jobs",
        "CronJob": "cronjobs",
        "Deployment": "deployments",
        "ConfigMap": "configmaps",
        "Service": "services",
        "ServiceAccount": "serviceaccounts",
        "Role": "roles",
        "RoleBinding": "rolebindings",
        "HorizontalPodAutoscaler": "horizontalpodautoscalers",
        "PodDisruptionBudget": "poddisruptionbudgets",
        "NetworkPolicy": "networkpolicies",
    }
    for group, kind in sorted(kinds):
        allowed = [r for r in rules if group in r["apiGroups"] and plural[kind] in r["resources"]]
        assert allowed and "create" in allowed[0]["verbs"] and "delete" in allowed[0]["verbs"], kind
