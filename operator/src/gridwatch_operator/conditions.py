"""Ready, Progressing and Degraded conditions computed from what the operator observed (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

READY, PROGRESSING, DEGRADED = "Ready", "Progressing", "Degraded"


@dataclass(frozen=True)
class Component:
    """One workload's Deployment as observed (None when the Deployment does not exist)."""

    name: str
    desired: int
    ready: int | None
    updated: bool = True

    @property
    def is_ready(self) -> bool:
        """Exists, rolled out, and has as many ready replicas as desired."""
        return self.ready is not None and self.updated and self.ready >= self.desired


@dataclass(frozen=True)
class Observation:
    """Everything the conditions depend on."""

    generation: int
    applied_generation: int | None
    components: tuple[Component, ...] = ()
    helm_error: str | None = None
    kafka_error: str | None = None
    paused: bool = False
    spec_error: str | None = None


def _cond(kind: str, ok: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


def compute(obs: Observation) -> list[dict[str, str]]:
    """The three conditions (without timestamps; see merge)."""
    not_ready = [c for c in obs.components if not c.is_ready]
    missing = [c.name for c in obs.components if c.ready is None]
    waiting = ", ".join(
        f"{c.name} {0 if c.ready is None else c.ready}/{c.desired}" + ("" if c.updated else " (rolling out)")
        for c in not_ready
    )
    current = obs.applied_generation == obs.generation

    if obs.spec_error:
        degraded = _cond(DEGRADED, True, "InvalidSpec", obs.spec_error)
    elif obs.helm_error:
        degraded = _cond(DEGRADED, True, "HelmFailed", obs.helm_error)
    elif obs.kafka_error:
        degraded = _cond(DEGRADED, True, "KafkaFailed", obs.kafka_error)
    else:
        degraded = _cond(DEGRADED, False, "AsExpected", "helm and Kafka reconciled without errors")

    if obs.spec_error:
        progressing = _cond(PROGRESSING, False, "InvalidSpec", "waiting for a valid spec")
    elif obs.paused:
        progressing = _cond(PROGRESSING, False, "Paused", "spec.paused is true: reconciliation is suspended")
    elif obs.helm_error:
        progressing = _cond(PROGRESSING, False, "Failed", "the last helm upgrade failed; retrying")
    elif not current:
        progressing = _cond(PROGRESSING, True, "Reconciling", f"applying generation {obs.generation}")
    elif not_ready:
        progressing = _cond(PROGRESSING, True, "RollingOut", f"waiting for {waiting}")
    else:
        progressing = _cond(PROGRESSING, False, "Complete", "every component is rolled out")

    if obs.spec_error:
        ready = _cond(READY, False, "InvalidSpec", obs.spec_error)
    elif obs.helm_error:
        ready = _cond(READY, False, "HelmFailed", obs.helm_error)
    elif obs.kafka_error:
        ready = _cond(READY, False, "KafkaFailed", obs.kafka_error)
    elif obs.applied_generation is None:
        ready = _cond(READY, False, "Pending", "the release has not been installed yet")
    elif missing:
        ready = _cond(READY, False, "DeploymentMissing", f"no Deployment for {', '.join(missing)}")
    elif not_ready:
        ready = _cond(READY, False, "ComponentsNotReady", f"waiting for {waiting}")
    elif not current:
        ready = _cond(READY, False, "Reconciling", f"generation {obs.generation} not applied yet")
    else:
        summary = ", ".join(f"{c.name} {c.ready}/{c.desired}" for c in obs.components)
        ready = _cond(READY, True, "AllComponentsReady", summary or "no components")
    if obs.paused:
        ready["message"] = f"{ready['message']} (paused)"
    return [ready, progressing, degraded]


def merge(
    previous: Iterable[Mapping[str, Any]] | None,
    fresh: Iterable[Mapping[str, str]],
    now: str,
    generation: int,
) -> list[dict[str, Any]]:
    """Stamp conditions: lastTransitionTime moves only when a condition's status changes."""
    old = {str(c.get("type")): c for c in previous or ()}
    out: list[dict[str, Any]] = []
    for cond in fresh:
        before = old.get(cond["type"])
        since = before.get("lastTransitionTime") if before and before.get("status") == cond["status"] else None
        out.append({**cond, "lastTransitionTime": since or now, "observedGeneration": generation})
    return out


def same(a: Iterable[Mapping[str, Any]] | None, b: Iterable[Mapping[str, Any]] | None) -> bool:
    """Equal conditions, ignoring field order."""
    return [dict(sorted(x.items())) for x in a or ()] == [dict(sorted(x.items())) for x in b or ()]
