"""The EnergySite status block: components from the release's Deployments, conditions, printer fields."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from typing import Any

from gridwatch_operator import conditions, flow, keda, rollout
from gridwatch_operator.conditions import Component, Observation


def now() -> str:
    """RFC 3339 UTC timestamp, second precision (what Kubernetes uses)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: object) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp written by now(); None if absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def deployment_view(spec: Mapping[str, Any], status: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """What the operator keeps of a watched Deployment."""
    replicas = spec.get("replicas")
    desired = int(replicas) if replicas is not None else 1
    updated = int(status.get("updatedReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0)
    return {
        "name": str(meta.get("name", "")),
        "component": str((meta.get("labels") or {}).get("app.kubernetes.io/component", "")),
        "replicas": replicas if replicas is None else int(replicas),
        "ready": int(status.get("readyReplicas") or 0),
        "rolledOut": observed >= int(meta.get("generation") or 0) and updated >= desired,
    }


def components(expected: Mapping[str, Mapping[str, Any]], live: Iterable[Mapping[str, Any]]) -> tuple[Component, ...]:
    """One Component per Deployment of the release manifest (by name), observed through `live`."""
    by_name = {str(d["name"]): d for d in live}
    out: list[Component] = []
    for name, manifest in expected.items():
        component = str(((manifest.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/component", name))
        seen = by_name.get(name)
        want = (manifest.get("spec") or {}).get("replicas")
        if want is None:  # left to the HPA: desired is whatever it set
            want = seen["replicas"] if seen and seen["replicas"] is not None else 1
        if seen is None:
            out.append(Component(component, int(want), None))
        else:
            out.append(Component(component, int(want), int(seen["ready"]), bool(seen["rolledOut"])))
    order = {"simulator": 0, "processor": 1, "history": 2, "alerts": 3, "api": 4}
    return tuple(sorted(out, key=lambda c: (order.get(c.name, 9), c.name)))


def component_status(items: Iterable[Component]) -> dict[str, dict[str, int]]:
    """status.components."""
    return {c.name: {"desired": c.desired, "ready": c.ready or 0} for c in items}


def processors_column(items: Iterable[Component]) -> str:
    """ "ready/desired" of the processor, for the printer column."""
    for c in items:
        if c.name == "processor":
            return f"{c.ready or 0}/{c.desired}"
    return "0/0"


def observe(
    status: Mapping[str, Any],
    generation: int,
    found: tuple[Component, ...],
    *,
    paused: bool,
    stamp: str,
    window_s: float = 60.0,
    at: float | None = None,
    spec_error: str | None = None,
) -> dict[str, Any]:
    """Status fields derived from an observation (conditions stamped against the previous ones)."""
    helm = status.get("helm") or {}
    kafka = status.get("kafka") or {}
    applied = status.get("observedGeneration")
    obs = Observation(
        generation=generation,
        applied_generation=int(applied) if applied is not None else None,
        components=found,
        helm_error=helm.get("error") or None,
        kafka_error=kafka.get("error") or None,
        paused=paused,
        spec_error=spec_error,
    )
    fresh = [
        *conditions.compute(obs),
        flow.condition(status, time.time() if at is None else at, window_s),
        rollout.condition(status),
        *keda.condition(status),
    ]
    merged = conditions.merge(status.get("conditions"), fresh, stamp, generation)
    return {
        "conditions": merged,
        "components": component_status(found),
        "processors": processors_column(found),
        "paused": paused,
    }


def changed(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of `update` whose values differ from `current` (conditions compared by content)."""
    out: dict[str, Any] = {}
    for key, value in update.items():
        if key == "conditions":
            if not conditions.same(current.get(key), value):
                out[key] = value
        elif current.get(key) != value:
            out[key] = value
    return out


def condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """A condition by type."""
    for cond in status.get("conditions") or ():
        if cond.get("type") == kind:
            return dict(cond)
    return None
