"""Ready, Progressing, Degraded and the status block, from what the operator observed."""

from __future__ import annotations

from typing import Any

from gridwatch_operator import status
from gridwatch_operator.conditions import Component, Observation, compute, merge, same

READY_ALL = (Component("simulator", 1, 1), Component("processor", 2, 2), Component("api", 2, 2))


def by_type(conds: list[dict[str, str]]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in conds}


def test_all_components_ready_is_ready_and_complete() -> None:
    conds = compute(Observation(generation=3, applied_generation=3, components=READY_ALL))
    assert by_type(conds) == {
        "Ready": ("True", "AllComponentsReady"),
        "Progressing": ("False", "Complete"),
        "Degraded": ("False", "AsExpected"),
    }
    assert conds[0]["message"] == "simulator 1/1, processor 2/2, api 2/2"


def test_waiting_for_replicas_is_progressing_not_ready() -> None:
    comps = (Component("processor", 3, 1), Component("api", 2, 2, updated=False))
    conds = compute(Observation(2, 2, comps))
    assert by_type(conds)["Ready"] == ("False", "ComponentsNotReady")
    assert by_type(conds)["Progressing"] == ("True", "RollingOut")
    assert conds[0]["message"] == "waiting for processor 1/3, api 2/2 (rolling out)"


def test_missing_deployment() -> None:
    conds = compute(Observation(1, 1, (Component("api", 2, None), Component("processor", 1, 1))))
    assert by_type(conds)["Ready"] == ("False", "DeploymentMissing")
    assert conds[0]["message"] == "no Deployment for api"


def test_helm_failure_is_degraded_with_the_reason() -> None:
    conds = compute(Observation(2, 1, READY_ALL, helm_error="exceeded quota: no-deployments"))
    assert by_type(conds) == {
        "Ready": ("False", "HelmFailed"),
        "Progressing": ("False", "Failed"),
        "Degraded": ("True", "HelmFailed"),
    }
    assert conds[2]["message"] == "exceeded quota: no-deployments"


def test_kafka_failure_is_degraded() -> None:
    conds = compute(Observation(1, 1, READY_ALL, kafka_error="Kafka at k:9092: timed out"))
    assert by_type(conds)["Degraded"] == ("True", "KafkaFailed")
    assert by_type(conds)["Ready"] == ("False", "KafkaFailed")


def test_new_generation_not_applied_yet() -> None:
    conds = compute(Observation(5, 4, READY_ALL))
    assert by_type(conds)["Ready"] == ("False", "Reconciling")
    assert by_type(conds)["Progressing"] == ("True", "Reconciling")
    assert by_type(compute(Observation(1, None)))["Ready"] == ("False", "Pending")


def test_paused() -> None:
    conds = compute(Observation(2, 2, READY_ALL, paused=True))
    assert by_type(conds)["Progressing"] == ("False", "Paused")
    assert by_type(conds)["Ready"] == ("True", "AllComponentsReady")
    assert conds[0]["message"].endswith("(paused)")


def test_transition_time_moves_only_when_the_status_changes() -> None:
    first = merge(None, compute(Observation(1, 1, READY_ALL)), "2026-01-01T00:00:00Z", 1)
    again = merge(first, compute(Observation(1, 1, READY_ALL)), "2026-01-01T00:05:00Z", 1)
    assert same(first, again)
    broken = merge(again, compute(Observation(1, 1, READY_ALL, helm_error="boom")), "2026-01-01T00:09:00Z", 1)
    times = {c["type"]: c["lastTransitionTime"] for c in broken}
    assert times == {
        "Ready": "2026-01-01T00:09:00Z",  # True -> False
        "Progressing": "2026-01-01T00:00:00Z",  # False -> False (reason changed only)
        "Degraded": "2026-01-01T00:09:00Z",  # False -> True
    }
    assert all(c["observedGeneration"] == 1 for c in broken)


MANIFEST: dict[str, dict[str, Any]] = {
    "gw-simulator": {"metadata": {"labels": {"app.kubernetes.io/component": "simulator"}}, "spec": {"replicas": 1}},
    "gw-processor": {"metadata": {"labels": {"app.kubernetes.io/component": "processor"}}, "spec": {"replicas": 2}},
    "gw-api": {"metadata": {"labels": {"app.kubernetes.io/component": "api"}}, "spec": {}},  # HPA-managed
}


def live(name: str, replicas: int | None, ready: int, rolled: bool = True) -> dict[str, Any]:
    return {"name": name, "component": "", "replicas": replicas, "ready": ready, "rolledOut": rolled}


def test_components_from_manifest_and_watched_deployments() -> None:
    found = status.components(MANIFEST, [live("gw-processor", 2, 1), live("gw-api", 3, 3)])
    assert found == (
        Component("simulator", 1, None),
        Component("processor", 2, 1),
        Component("api", 3, 3),  # desired is what the HPA chose
    )
    assert status.component_status(found) == {
        "simulator": {"desired": 1, "ready": 0},
        "processor": {"desired": 2, "ready": 1},
        "api": {"desired": 3, "ready": 3},
    }
    assert status.processors_column(found) == "1/2"


def test_deployment_view_reads_rollout() -> None:
    meta = {"name": "gw-api", "generation": 4, "labels": {"app.kubernetes.io/component": "api"}}
    view = status.deployment_view(
        {"replicas": 2}, {"readyReplicas": 2, "updatedReplicas": 2, "observedGeneration": 4}, meta
    )
    assert view == {"name": "gw-api", "component": "api", "replicas": 2, "ready": 2, "rolledOut": True}
    stale = status.deployment_view(
        {"replicas": 2}, {"readyReplicas": 2, "updatedReplicas": 2, "observedGeneration": 3}, meta
    )
    assert stale["rolledOut"] is False


def test_observe_and_changed_only_report_differences() -> None:
    found = status.components(MANIFEST, [live("gw-simulator", 1, 1), live("gw-processor", 2, 2), live("gw-api", 2, 2)])
    first = status.observe({"observedGeneration": 1}, 1, found, paused=False, stamp="2026-01-01T00:00:00Z")
    assert first["processors"] == "2/2"
    assert status.condition(first, "Ready")["status"] == "True"  # type: ignore[index]
    current = {"observedGeneration": 1, **first}
    later = status.observe(current, 1, found, paused=False, stamp="2026-01-01T00:01:00Z")
    assert status.changed(current, later) == {}
    paused = status.observe(current, 1, found, paused=True, stamp="2026-01-01T00:02:00Z")
    assert set(status.changed(current, paused)) == {"conditions", "paused"}


def test_time_round_trip() -> None:
    stamp = status.now()
    assert stamp.endswith("Z")
    parsed = status.parse_time(stamp)
    assert parsed is not None and parsed > 1.7e9
    assert status.parse_time(None) is None
    assert status.parse_time("yesterday") is None
