"""Per-site in-memory state shared by handlers and timers: a lock and the release's Deployments."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from gridwatch_operator.capacity import Throughput
from gridwatch_operator.rollout import Policy


@dataclass
class SiteState:
    """What the operator remembers about one site between handler calls."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    revision: int | None = None
    deployments: dict[str, dict[str, Any]] | None = None
    scaled_replicas: int | None = None
    release_checked: float = 0.0
    deleting: bool = False
    site_id: str = ""  # the identity (spec.site_identity): the `site` label of its metrics, as of its workloads
    upgrade: Policy | None = None  # spec.upgrade resolved (rollout.py), set by every handler that parsed the spec
    upgrade_status: dict[str, Any] | None = None  # status.upgrade of the last helm call
    keda_rendered: bool | None = None  # engine KEDA: whether the last helm call rendered the ScaledObject
    throughput: Throughput = field(default_factory=Throughput)  # input rate and processor capacity (capacity.py)


class Registry:
    """Sites by (namespace, name). Helm runs for a site only while holding its lock, so a timer
    never compares live objects against a manifest that an upgrade is replacing."""

    def __init__(self) -> None:
        self._sites: dict[tuple[str, str], SiteState] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, name: str) -> SiteState:
        """The site's state, created on first use."""
        with self._lock:
            return self._sites.setdefault((namespace, name), SiteState())

    def drop(self, namespace: str, name: str) -> None:
        """Forget a deleted site."""
        with self._lock:
            self._sites.pop((namespace, name), None)

    def __len__(self) -> int:
        return len(self._sites)
