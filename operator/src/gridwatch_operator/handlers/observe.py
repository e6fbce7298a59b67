"""kopf status timer: refresh status from the release's Deployments; repair drift unless paused."""

from __future__ import annotations

from typing import Any

import kopf

from gridwatch_operator import status as st
from gridwatch_operator.handlers.common import SETTINGS, DeploymentIndex, live, namespaced, notifier, runtime
from gridwatch_operator.helm import HelmError
from gridwatch_operator.settings import GROUP, PLURAL, VERSION
from gridwatch_operator.site import chosen_replicas, ensure_known, observed, repair_drift
from gridwatch_operator.spec import SiteSpec


@kopf.timer(GROUP, VERSION, PLURAL, interval=SETTINGS.status_interval_seconds, initial_delay=1.0)
def observe(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    site_deployments: DeploymentIndex | None = None,
    **_: Any,
) -> None:
    """Refresh status from the release's Deployments; repair drift unless paused."""
    namespace = namespaced(namespace)
    rt = runtime(memo)
    site = rt.registry.get(namespace, name)
    if meta.get("deletionTimestamp") or site.deleting:
        return
    paused = bool(spec.get("paused"))
    try:
        ensure_known(rt, site, name, namespace)
    except HelmError as exc:
        logger.warning(f"cannot read the release: {exc}")
    seen = live(site_deployments, namespace, name)
    update: dict[str, Any] = {}
    if not paused and rt.settings.drift_repair:
        chosen = chosen_replicas(site, name, spec, status)  # the lag autoscaler's processors
        repaired = repair_drift(site, name, namespace, seen, notifier(body), chosen)
        if repaired:
            drift = status.get("drift") or {}
            update["drift"] = {
                "repairs": int(drift.get("repairs") or 0) + len(repaired),
                "lastRepairTime": st.now(),
                "lastRepair": "; ".join(repaired),
            }
    generation = int(meta.get("generation") or 0)
    problem = SiteSpec.parse(name, spec).problem()  # keep a refused spec's conditions until it is fixed
    update.update(observed(rt, name, namespace, status, generation, seen, paused=paused, spec_error=problem))
    diff = st.changed(status, update)
    if diff:
        patch.status.update(diff)
