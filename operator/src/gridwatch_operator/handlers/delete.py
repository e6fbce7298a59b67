"""kopf delete: helm uninstall (waiting until the release's objects are gone); then kopf drops the finalizer."""

from __future__ import annotations

from typing import Any

import kopf

from gridwatch_operator import metrics
from gridwatch_operator.handlers.common import namespaced, runtime
from gridwatch_operator.helm import HelmError
from gridwatch_operator.settings import GROUP, PLURAL, VERSION


@kopf.on.delete(GROUP, VERSION, PLURAL)
def delete(name: str, namespace: str | None, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """helm uninstall (waiting until the release's objects are gone); then kopf drops the finalizer."""
    namespace = namespaced(namespace)
    rt = runtime(memo)
    site = rt.registry.get(namespace, name)
    site.deleting = True
    with site.lock:
        try:
            removed = rt.helm.uninstall(name, namespace)
        except HelmError as exc:
            kopf.warn(body, reason="UninstallFailed", message=str(exc))
            raise kopf.TemporaryError(f"helm uninstall failed: {exc}", delay=rt.settings.retry_delay_seconds) from exc
        site.deployments = None
    message = f"helm release {name} uninstalled" if removed else f"no helm release {name} to uninstall"
    kopf.info(body, reason="Uninstalled", message=message)
    logger.info(message)
    rt.registry.drop(namespace, name)
    metrics.forget(namespace, site.site_id or str((body.get("status") or {}).get("siteId") or name))
