"""kopf startup: persistence under gridwatch.io, watch timeouts, the metrics server, the shared Runtime."""

from __future__ import annotations

import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

from gridwatch_operator import status as st
from gridwatch_operator.handlers.common import SETTINGS, runtime
from gridwatch_operator.helm import Helm
from gridwatch_operator.registry import Registry
from gridwatch_operator.settings import FINALIZER
from gridwatch_operator.site import Runtime
from gridwatch_operator.topics import Kafka

SITE_LABELS = {"app.kubernetes.io/name": "energy-site", "app.kubernetes.io/part-of": "gridwatch"}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Finalizer and progress under gridwatch.io, metrics server, shared clients."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.gridwatch.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.gridwatch.io", key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    # Resolve resources and namespaces once at startup: no watching of CRDs or namespaces, so
    # the operator needs no cluster-scoped permission at all (the chart installs the CRD first).
    settings.scanning.disabled = True
    settings.execution.max_workers = 16
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    memo["runtime"] = Runtime(
        settings=SETTINGS,
        helm=Helm(
            SETTINGS.chart_path, SETTINGS.helm_binary, SETTINGS.helm_timeout_seconds, driver=SETTINGS.helm_driver
        ),
        kafka=Kafka(SETTINGS.kafka_timeout_seconds),
        registry=Registry(),
    )
    if SETTINGS.metrics_port:
        start_http_server(SETTINGS.metrics_port)
    logger.info(
        f"chart {SETTINGS.chart_path}, default image {SETTINGS.workloads_image}, "
        f"namespaces {SETTINGS.namespaces or 'all'}, metrics on :{SETTINGS.metrics_port}"
    )


@kopf.on.probe(id="sites")
def sites_probe(memo: kopf.Memo, **_: Any) -> int:
    """Liveness detail: how many sites this operator tracks."""
    return len(runtime(memo).registry)


@kopf.index("apps", "v1", "deployments", labels=SITE_LABELS)
def site_deployments(
    namespace: str | None, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    """Release Deployments by (namespace, site), as seen by the watch."""
    instance = meta.labels.get("app.kubernetes.io/instance")
    if not namespace or not instance:
        return {}
    return {(namespace, instance): st.deployment_view(spec, status, meta)}
