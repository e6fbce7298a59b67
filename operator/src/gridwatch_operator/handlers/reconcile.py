"""kopf create/update/resume: topics and `helm upgrade --install`, unless paused."""

from __future__ import annotations

import time
from typing import Any

import kopf

from gridwatch_operator import metrics
from gridwatch_operator.handlers.common import DeploymentIndex, live, namespaced, notifier, runtime
from gridwatch_operator.settings import GROUP, PLURAL, VERSION
from gridwatch_operator.site import SiteFailed, apply_site, observed
from gridwatch_operator.spec import SiteSpec


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def reconcile(
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
    """Create, update and resume: topics and `helm upgrade --install`, unless paused."""
    namespace = namespaced(namespace)
    rt = runtime(memo)
    parsed = SiteSpec.parse(name, spec, namespace, status)
    generation = int(meta.get("generation") or 0)
    seen = live(site_deployments, namespace, name)
    problem = parsed.problem()
    if problem is not None:
        patch.status.update(observed(rt, name, namespace, status, generation, seen, paused=False, spec_error=problem))
        kopf.warn(body, reason="InvalidSpec", message=problem)
        raise kopf.PermanentError(problem)
    if parsed.paused:
        patch.status.update(observed(rt, name, namespace, status, generation, seen, paused=True))
        kopf.info(body, reason="Paused", message="spec.paused is true: no upgrades, scaling or drift repair")
        return
    labels = metrics.labels(namespace, parsed.site_id)
    started = time.perf_counter()
    try:
        fields = apply_site(rt, parsed, namespace, spec, status, generation, notifier(body))
    except SiteFailed as failed:
        metrics.RECONCILE_ERRORS.labels(**labels, reason=failed.reason).inc()
        merged = {**status, **failed.fields}
        patch.status.update({**failed.fields, **observed(rt, name, namespace, merged, generation, seen, paused=False)})
        raise kopf.TemporaryError(str(failed), delay=rt.settings.retry_delay_seconds) from failed
    finally:
        metrics.RECONCILE.labels(**labels).observe(time.perf_counter() - started)
    merged = {**status, **fields}
    patch.status.update({**fields, **observed(rt, name, namespace, merged, generation, seen, paused=False)})
    logger.info(f"reconciled at helm revision {fields['helm']['revision']}")
