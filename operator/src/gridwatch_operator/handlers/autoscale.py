"""kopf autoscale timer: the processor group's lag and the data flow; with autoscaling, scale by lag."""

from __future__ import annotations

import time
from typing import Any

import kopf

from gridwatch_operator import site as logic
from gridwatch_operator.handlers.common import SETTINGS, namespaced, notifier, runtime
from gridwatch_operator.settings import GROUP, PLURAL, VERSION
from gridwatch_operator.spec import SiteSpec


@kopf.timer(GROUP, VERSION, PLURAL, interval=SETTINGS.autoscale_interval_seconds, initial_delay=2.0)
def autoscale(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Measure the processor group's lag; with spec.processor.autoscaling, scale processors by it."""
    namespace = namespaced(namespace)
    rt = runtime(memo)
    parsed = SiteSpec.parse(name, spec, namespace, status)
    site = rt.registry.get(namespace, name)
    if meta.get("deletionTimestamp") or site.deleting or parsed.paused:
        return
    update = logic.autoscale(rt, parsed, namespace, spec, status, notifier(body), logger.warning, time.time())
    patch.status.update(update)
