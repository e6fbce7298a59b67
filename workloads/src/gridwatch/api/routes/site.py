"""GET /api/site: the site's EnergySite status from Kubernetes, or a notice that the API runs locally."""

from __future__ import annotations

import asyncio
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException

from gridwatch.api.contract import SiteConfig, SiteStatus
from gridwatch.api.deps import SettingsDep
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.api.settings import ApiSettings
from gridwatch.common import sitetime

router = APIRouter(tags=["site"], default_response_class=MsgspecJSON)
TOKEN_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
LOCAL = SiteStatus(mode="local", kubernetes=False, message="not running on Kubernetes")


def in_cluster() -> bool:
    """True inside a pod that has a ServiceAccount token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and TOKEN_FILE.exists()


@lru_cache(maxsize=2)
def _custom_objects(kubeconfig: str) -> Any:
    from kubernetes import client, config

    if kubeconfig:
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    else:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        api = client.ApiClient()
    return client.CustomObjectsApi(api)


def read_site(k8s: ApiSettings, name: str) -> dict[str, Any]:
    """The EnergySite object; raises HTTPException saying why it could not be read."""
    from kubernetes.client import ApiException

    try:
        obj: dict[str, Any] = _custom_objects(k8s.k8s_kubeconfig).get_namespaced_custom_object(
            "gridwatch.io", "v1alpha1", k8s.k8s_site_namespace, "energysites", name, _request_timeout=k8s.k8s_timeout_s
        )
    except ApiException as exc:
        if exc.status == 404:
            raise HTTPException(404, f"EnergySite '{k8s.k8s_site_namespace}/{name}' not found") from exc
        if exc.status == 403:
            raise HTTPException(502, f"the API may not read EnergySite '{k8s.k8s_site_namespace}/{name}'") from exc
        raise HTTPException(503, f"Kubernetes API error {exc.status}: {exc.reason}") from exc
    except Exception as exc:  # urllib3 connection errors, timeouts, config errors
        raise HTTPException(503, f"Kubernetes API unavailable: {type(exc).__name__}") from exc
    return obj


def summarize(obj: dict[str, Any]) -> dict[str, Any]:
    """What the UI shows about the site: conditions, components, helm revision, lag, scaling."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    conditions = status.get("conditions") or []
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return {
        "mode": "kubernetes",
        "kubernetes": True,
        "site": meta.get("name"),
        "namespace": meta.get("namespace"),
        "generation": meta.get("generation"),
        "observedGeneration": status.get("observedGeneration"),
        "ready": ready.get("status") == "True",
        "paused": bool(spec.get("paused")),
        "conditions": conditions,
        "components": status.get("components") or {},
        "processors": status.get("processors"),
        "consumerLag": status.get("consumerLag"),
        "consumerLagReadings": status.get("consumerLagReadings"),
        "helm": {k: v for k, v in (status.get("helm") or {}).items() if k in ("revision", "chartVersion", "error")},
        "scaling": status.get("scaling") or {},
        "sensors": (spec.get("sensors") or {}).get("count"),
        "autoscaling": ((spec.get("processor") or {}).get("autoscaling") or {}).get("enabled", False),
    }


@router.get("/site", operation_id="getSite", responses={**ok(SiteStatus), **problems(404, 502, 503)})
async def get_site(settings: SettingsDep) -> MsgspecJSON:
    """The operator's view of this site (EnergySite status), or local mode outside Kubernetes."""
    if not settings.k8s_site_namespace or not (settings.k8s_kubeconfig or in_cluster()):
        return MsgspecJSON(LOCAL)
    obj = await asyncio.to_thread(read_site, settings, settings.k8s_site_name or settings.site)
    try:
        return MsgspecJSON(msgspec.convert(summarize(obj), SiteStatus))
    except msgspec.ValidationError as exc:  # an operator writing a status this API does not know
        raise HTTPException(502, "the EnergySite status has a shape this API does not understand") from exc


@router.get("/site/config", operation_id="getSiteConfig", responses=ok(SiteConfig))
async def get_site_config(settings: SettingsDep) -> MsgspecJSON:
    """The site's name, IANA time zone, currency and current local day: the UI shows times and "today" in it."""
    now = time.time()
    offset = sitetime.local(now, settings.timezone).utcoffset()
    return MsgspecJSON(
        SiteConfig(
            site=settings.site,
            timezone=settings.timezone,
            currency=settings.currency,
            utc_offset_s=int(offset.total_seconds()) if offset is not None else 0,
            today_start=sitetime.start_of_day(now, settings.timezone),
            now=now,
        )
    )
