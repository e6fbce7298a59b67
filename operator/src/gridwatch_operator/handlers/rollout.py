"""kopf rollout timer: a site holding a chart upgrade re-applies itself when its maintenance window opens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import kopf

from gridwatch_operator import rollout as gates
from gridwatch_operator.handlers.common import SETTINGS, DeploymentIndex, live, namespaced, notifier, runtime
from gridwatch_operator.settings import GROUP, PLURAL, VERSION
from gridwatch_operator.site import SiteFailed, apply_site, observed, upgrade_policy
from gridwatch_operator.spec import SiteSpec


@kopf.timer(GROUP, VERSION, PLURAL, interval=SETTINGS.rollout_interval_seconds, initial_delay=5.0)
def rollout(
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
    """With status.upgrade.pending: once the gate opens (a window; approval is a spec update), upgrade the site."""
    namespace = namespaced(namespace)
    rt = runtime(memo)
    site = rt.registry.get(namespace, name)
    if not (status.get("upgrade") or {}).get("pending") or meta.get("deletionTimestamp") or site.deleting:
        return
    parsed = SiteSpec.parse(name, spec, namespace, status)
    if parsed.paused or parsed.problem() is not None:
        return
    now = dt.datetime.now(dt.UTC)
    if not gates.gate(upgrade_policy(rt, parsed), rt.helm.chart_version(), now).open:
        return
    generation = int(meta.get("generation") or 0)
    seen = live(site_deployments, namespace, name)
    logger.info("the upgrade gate opened: rolling out the operator's chart")
    try:
        fields = apply_site(rt, parsed, namespace, spec, status, generation, notifier(body))
    except SiteFailed as failed:
        merged = {**status, **failed.fields}
        patch.status.update({**failed.fields, **observed(rt, name, namespace, merged, generation, seen, paused=False)})
        logger.warning(f"held upgrade failed, retried at the next pass: {failed}")
        return
    merged = {**status, **fields}
    patch.status.update({**fields, **observed(rt, name, namespace, merged, generation, seen, paused=False)})
