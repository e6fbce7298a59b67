"""Drift between the release's rendered Deployments and the live ones (pure comparison)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Drift:
    """A Deployment deleted by hand (have None) or scaled by hand."""

    name: str
    want: int | None
    have: int | None

    @property
    def missing(self) -> bool:
        """The Deployment is gone."""
        return self.have is None

    @property
    def message(self) -> str:
        """What happened, for events and status."""
        if self.missing:
            return f"Deployment {self.name} was deleted; recreated from the release manifest"
        return f"Deployment {self.name} was scaled to {self.have}; restored to {self.want} replicas"


def wanted_replicas(manifest: Mapping[str, Any]) -> int | None:
    """spec.replicas in the manifest (None when the chart leaves replicas to an HPA)."""
    replicas = (manifest.get("spec") or {}).get("replicas")
    return int(replicas) if replicas is not None else None


def find(
    expected: Mapping[str, Mapping[str, Any]],
    live: Mapping[str, int | None],
    chosen: Mapping[str, int] | None = None,
) -> list[Drift]:
    """Compare the manifest's Deployments (by name) with live spec.replicas (by name; a live
    Deployment without replicas maps to None). `chosen` are replicas the operator decides instead of the
    manifest (the lag autoscaler's processors). Deployments only in `live` are not ours to judge."""
    drifts: list[Drift] = []
    for name, manifest in sorted(expected.items()):
        want = (chosen or {}).get(name, wanted_replicas(manifest))
        if name not in live:
            drifts.append(Drift(name, want, None))
        elif want is not None and live[name] != want:
            drifts.append(Drift(name, want, live[name]))
    return drifts
