"""What every kopf handler shares: the settings, the Runtime in kopf's memo, events, the Deployment index."""

from __future__ import annotations

from typing import Any

import kopf

from gridwatch_operator.settings import GridwatchOperatorSettings
from gridwatch_operator.site import Notify, Runtime

# Timer intervals are fixed when the decorators run, so the settings are read at import.
SETTINGS = GridwatchOperatorSettings()

DeploymentIndex = kopf.Index[tuple[str, str], dict[str, Any]]


def namespaced(namespace: str | None) -> str:
    """EnergySites are namespaced; kopf types the namespace as optional for cluster objects."""
    if not namespace:
        raise kopf.PermanentError("an EnergySite must live in a namespace")
    return namespace


def runtime(memo: kopf.Memo) -> Runtime:
    """The Runtime the startup handler put in kopf's memo."""
    rt: Runtime = memo["runtime"]
    return rt


def notifier(body: kopf.Body) -> Notify:
    """Events on the EnergySite."""

    def notify(kind: str, reason: str, message: str) -> None:
        kopf.event(body, type=kind, reason=reason, message=message)

    return notify


def live(index: DeploymentIndex | None, namespace: str, name: str) -> list[dict[str, Any]]:
    """The site's Deployments as the index last saw them."""
    store = None if index is None else index.get((namespace, name))
    return list(store) if store is not None else []
