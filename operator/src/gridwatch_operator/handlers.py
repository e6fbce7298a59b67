"""kopf handlers: reconcile EnergySites into Helm releases, keep status honest, scale, repair drift, clean up.

Handlers are synchronous (kopf runs them in its thread pool) because helm, the Kafka AdminClient
and the Kubernetes client all block. A site's helm operations hold that site's lock (registry.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf
from prometheus_client import start_http_server

from gridwatch_operator import kube, metrics
from gridwatch_operator import status as st
from gridwatch_operator.autoscaler import Policy, decide
from gridwatch_operator.drift import find
from gridwatch_operator.flow import heartbeat, sensors_reporting
from gridwatch_operator.helm import Helm, HelmError, Outcome, deployments
from gridwatch_operator.registry import Registry, SiteState
from gridwatch_operator.settings import FINALIZER, GROUP, PLURAL, VERSION, GridwatchOperatorSettings
from gridwatch_operator.topics import Kafka, TopicsError, topic_names
from gridwatch_operator.values import helm_values, merge, processor_replicas

# Timer intervals are fixed when the decorators run, so the settings are read at import.
SETTINGS = GridwatchOperatorSettings()
RELEASE_RECHECK_SECONDS = 30.0  # how often a timer asks helm about a release it does not know yet
SITE_LABELS = {"app.kubernetes.io/name": "energy-site", "app.kubernetes.io/part-of": "gridwatch"}


@dataclass
class Runtime:
    """Everything handlers share, kept in kopf's memo."""

    settings: GridwatchOperatorSettings
    helm: Helm
    kafka: Kafka
    registry: Registry


class SiteFailed(Exception):
    """Reconciliation failed; `fields` are the status fields to record anyway."""

    def __init__(self, reason: str, message: str, fields: dict[str, Any]) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields


def _namespaced(namespace: str | None) -> str:
    """EnergySites are namespaced; kopf types the namespace as optional for cluster objects."""
    if not namespace:
        raise kopf.PermanentError("an EnergySite must live in a namespace")
    return namespace


def _runtime(memo: kopf.Memo) -> Runtime:
    rt: Runtime = memo["runtime"]
    return rt


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
    return len(_runtime(memo).registry)


@kopf.index("apps", "v1", "deployments", labels=SITE_LABELS)
def site_deployments(
    namespace: str | None, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    """Release Deployments by (namespace, site), as seen by the watch."""
    instance = meta.labels.get("app.kubernetes.io/instance")
    if not namespace or not instance:
        return {}
    return {(namespace, instance): st.deployment_view(spec, status, meta)}


def _live(index: kopf.Index[tuple[str, str], dict[str, Any]] | None, namespace: str, name: str) -> list[dict[str, Any]]:
    store = None if index is None else index.get((namespace, name))
    return list(store) if store is not None else []


def _desired_status(status: Mapping[str, Any], site: SiteState) -> Mapping[str, Any]:
    """The status, with the autoscaler's latest choice even if kopf's body predates it."""
    if site.scaled_replicas is None:
        return status
    return {**status, "scaling": {**(status.get("scaling") or {}), "replicas": site.scaled_replicas}}


def _values(rt: Runtime, name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """The site's values, with the operator-wide siteValues merged over them."""
    values = helm_values(
        name,
        spec,
        status,
        default_image=rt.settings.workloads_image,
        pull_policy=rt.settings.image_pull_policy,
    )
    return merge(values, rt.settings.site_values)


def _helm(rt: Runtime, site: SiteState, name: str, namespace: str, values: Mapping[str, Any]) -> Outcome:
    """helm upgrade --install under the site's lock; remembers the release's Deployments."""
    with site.lock:
        outcome = rt.helm.ensure(name, namespace, values)
        site.revision = outcome.release.revision
        site.deployments = deployments(outcome.release.manifest)
    metrics.HELM_REVISION.labels(**metrics.labels(namespace, name)).set(outcome.release.revision)
    return outcome


def _topics(rt: Runtime, name: str, spec: Mapping[str, Any], body: kopf.Body) -> dict[str, Any]:
    """Create or raise the site's topics; the status.kafka block (with `error` on failure)."""
    kafka = spec.get("kafka") or {}
    if not kafka.get("manageTopics", True):
        return {"message": "topics are managed outside the operator (kafka.manageTopics=false)", "error": None}
    partitions = int(kafka.get("partitions", 4))
    names = topic_names(str(kafka.get("topicPrefix") or name))
    try:
        outcome = rt.kafka.ensure_topics(
            str(kafka.get("bootstrapServers")), names, partitions, int(kafka.get("replicationFactor", 1))
        )
    except TopicsError as exc:
        kopf.warn(body, reason="KafkaFailed", message=str(exc))
        return {"error": str(exc), "message": None}
    states = set(outcome.topics.values())
    if any(s.startswith("kept") for s in states):
        kopf.warn(body, reason="PartitionsKept", message=outcome.message)
    elif any(s == "created" or s.startswith("raised") for s in states):
        kopf.info(body, reason="TopicsReconciled", message=outcome.message)
    return {"partitions": partitions, "topics": outcome.topics, "message": outcome.message, "error": None}


def apply_site(
    rt: Runtime,
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    generation: int,
    body: kopf.Body,
) -> dict[str, Any]:
    """Topics, then the Helm release. Returns status fields; raises SiteFailed (with fields) on errors."""
    site = rt.registry.get(namespace, name)
    fields: dict[str, Any] = {"kafka": _topics(rt, name, spec, body)}
    values = _values(rt, name, spec, _desired_status(status, site))
    previous = dict(status.get("helm") or {})
    try:
        outcome = _helm(rt, site, name, namespace, values)
    except HelmError as exc:
        kopf.warn(body, reason="HelmFailed", message=str(exc))
        fields["helm"] = {**previous, "release": name, "error": str(exc)}
        raise SiteFailed("helm", f"helm upgrade failed: {exc}", fields) from exc
    release = outcome.release
    fields["helm"] = {
        "release": name,
        "revision": release.revision,
        "chartVersion": rt.helm.chart_version(),
        "digest": outcome.digest,
        "lastAppliedTime": st.now() if outcome.changed else previous.get("lastAppliedTime") or st.now(),
        "error": None,
    }
    fields["observedGeneration"] = generation
    if outcome.changed:
        verb = "Installed" if release.revision == 1 else "Upgraded"
        kopf.info(body, reason=verb, message=f"helm release {name} at revision {release.revision}")
    if outcome.warnings:
        kopf.warn(body, reason="HelmWarnings", message="; ".join(outcome.warnings)[:1000])
    if fields["kafka"].get("error"):
        raise SiteFailed("kafka", f"Kafka topics: {fields['kafka']['error']}", fields)
    return fields


def _observed(
    rt: Runtime,
    name: str,
    namespace: str,
    status: Mapping[str, Any],
    generation: int,
    live: Iterable[Mapping[str, Any]],
    *,
    paused: bool,
) -> dict[str, Any]:
    site = rt.registry.get(namespace, name)
    expected = site.deployments or {}
    found = st.components(expected, live)
    window = rt.settings.data_flowing_window_seconds
    return st.observe(status, generation, found, paused=paused, stamp=st.now(), window_s=window)


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
    site_deployments: kopf.Index[tuple[str, str], dict[str, Any]] | None = None,
    **_: Any,
) -> None:
    """Create, update and resume: topics and `helm upgrade --install`, unless paused."""
    namespace = _namespaced(namespace)
    rt = _runtime(memo)
    generation = int(meta.get("generation") or 0)
    live = _live(site_deployments, namespace, name)
    if spec.get("paused"):
        patch.status.update(_observed(rt, name, namespace, status, generation, live, paused=True))
        kopf.info(body, reason="Paused", message="spec.paused is true: no upgrades, scaling or drift repair")
        return
    labels = metrics.labels(namespace, name)
    started = time.perf_counter()
    try:
        fields = apply_site(rt, name, namespace, spec, status, generation, body)
    except SiteFailed as failed:
        metrics.RECONCILE_ERRORS.labels(**labels, reason=failed.reason).inc()
        merged = {**status, **failed.fields}
        patch.status.update({**failed.fields, **_observed(rt, name, namespace, merged, generation, live, paused=False)})
        raise kopf.TemporaryError(str(failed), delay=rt.settings.retry_delay_seconds) from failed
    finally:
        metrics.RECONCILE.labels(**labels).observe(time.perf_counter() - started)
    merged = {**status, **fields}
    patch.status.update({**fields, **_observed(rt, name, namespace, merged, generation, live, paused=False)})
    logger.info(f"reconciled at helm revision {fields['helm']['revision']}")


def _ensure_known(rt: Runtime, site: SiteState, name: str, namespace: str) -> None:
    """After a restart before the resume handler ran: learn the release's Deployments from helm."""
    if site.deployments is not None or time.monotonic() - site.release_checked < RELEASE_RECHECK_SECONDS:
        return
    site.release_checked = time.monotonic()
    with site.lock:
        release = rt.helm.status(name, namespace)
        if release is not None and release.status == "deployed":
            site.revision = release.revision
            site.deployments = deployments(release.manifest or rt.helm.manifest(name, namespace))


def repair_drift(
    rt: Runtime, site: SiteState, name: str, namespace: str, live: Iterable[Mapping[str, Any]], body: kopf.Body
) -> list[str]:
    """Restore Deployments deleted or scaled by hand; returns what was repaired."""
    repaired: list[str] = []
    with site.lock:
        if site.deleting or not site.deployments:
            return repaired
        seen = {str(d["name"]): d["replicas"] for d in live}
        for drift in find(site.deployments, seen):
            current = kube.read_deployment(namespace, drift.name)  # the watch may lag behind
            if drift.missing:
                if current is not None or not kube.create_deployment(namespace, site.deployments[drift.name], name):
                    continue
            else:
                have = None if current is None else (current.get("spec") or {}).get("replicas")
                if current is None or have == drift.want or drift.want is None:
                    continue
                kube.scale_deployment(namespace, drift.name, drift.want)
            kind = "deleted" if drift.missing else "scaled"
            metrics.DRIFT_REPAIRS.labels(**metrics.labels(namespace, name), kind=kind).inc()
            kopf.warn(body, reason="DriftRepaired", message=drift.message)
            repaired.append(drift.message)
    return repaired


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
    site_deployments: kopf.Index[tuple[str, str], dict[str, Any]] | None = None,
    **_: Any,
) -> None:
    """Refresh status from the release's Deployments; repair drift unless paused."""
    namespace = _namespaced(namespace)
    rt = _runtime(memo)
    site = rt.registry.get(namespace, name)
    if meta.get("deletionTimestamp") or site.deleting:
        return
    paused = bool(spec.get("paused"))
    try:
        _ensure_known(rt, site, name, namespace)
    except HelmError as exc:
        logger.warning(f"cannot read the release: {exc}")
    live = _live(site_deployments, namespace, name)
    update: dict[str, Any] = {}
    if not paused and rt.settings.drift_repair:
        repaired = repair_drift(rt, site, name, namespace, live, body)
        if repaired:
            drift = status.get("drift") or {}
            update["drift"] = {
                "repairs": int(drift.get("repairs") or 0) + len(repaired),
                "lastRepairTime": st.now(),
                "lastRepair": "; ".join(repaired),
            }
    generation = int(meta.get("generation") or 0)
    update.update(_observed(rt, name, namespace, status, generation, live, paused=paused))
    diff = st.changed(status, update)
    if diff:
        patch.status.update(diff)


def _data_flow(rt: Runtime, bootstrap: str, topic: str, logger: kopf.Logger) -> dict[str, Any]:
    """status.dataFlow: the newest message time on the readings topic and the sensors the heartbeats report."""
    try:
        newest, values = rt.kafka.tail(bootstrap, topic, rt.settings.tail_messages)
    except TopicsError as exc:
        logger.warning(f"data flow unknown: {exc}")
        return {"error": str(exc)}
    beats = [b for b in map(heartbeat, values) if b is not None]
    sensors = sensors_reporting(beats, time.time(), rt.settings.data_flowing_window_seconds)
    return {"lastMessageTime": newest, "sensorsReporting": sensors, "error": None}


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
    namespace = _namespaced(namespace)
    rt = _runtime(memo)
    site = rt.registry.get(namespace, name)
    if meta.get("deletionTimestamp") or site.deleting or spec.get("paused"):
        return
    kafka = spec.get("kafka") or {}
    prefix = str(kafka.get("topicPrefix") or name)
    partitions = int(kafka.get("partitions", 4))
    lag: int | None = None
    try:
        lag, partitions = rt.kafka.lag(str(kafka.get("bootstrapServers")), f"{prefix}.processor", f"{prefix}.readings")
    except TopicsError as exc:
        logger.warning(f"consumer lag unknown: {exc}")
    labels = metrics.labels(namespace, name)
    if lag is not None:
        metrics.CONSUMER_LAG.labels(**labels).set(lag)
        if status.get("consumerLag") != lag:
            patch.status["consumerLag"] = lag
    data = _data_flow(rt, str(kafka.get("bootstrapServers")), f"{prefix}.readings", logger)
    if status.get("dataFlow") != {k: v for k, v in data.items() if v is not None}:
        patch.status["dataFlow"] = data  # a None deletes the key in the merge patch
    if data.get("sensorsReporting") is not None and status.get("sensorsReporting") != data["sensorsReporting"]:
        patch.status["sensorsReporting"] = data["sensorsReporting"]
    auto = (spec.get("processor") or {}).get("autoscaling") or {}
    if not auto.get("enabled"):
        return
    scaling = dict(status.get("scaling") or {})
    desired_status = _desired_status(status, site)
    current = processor_replicas(spec, desired_status)
    decision = decide(
        Policy.from_spec(auto), current, lag, partitions, time.time(), st.parse_time(scaling.get("lastScaleTime"))
    )
    record = {"from": current, "to": decision.replicas, "lag": lag, "reason": decision.reason}
    if decision.changed:
        values = _values(rt, name, spec, {**status, "scaling": {**scaling, "replicas": decision.replicas}})
        try:
            outcome = _helm(rt, site, name, namespace, values)
        except HelmError as exc:
            kopf.warn(body, reason="ScalingFailed", message=f"processor {current} -> {decision.replicas}: {exc}")
            metrics.RECONCILE_ERRORS.labels(**labels, reason="scaling").inc()
            failed = {
                **record,
                "to": current,
                "reason": f"scaling to {decision.replicas} failed: {exc}",
                "time": st.now(),
            }
            patch.status["scaling"] = {"lastEvaluation": failed}
            return
        site.scaled_replicas = decision.replicas
        stamp = st.now()
        metrics.SCALING_DECISIONS.labels(**labels, direction=decision.direction).inc()
        kopf.info(body, reason="Scaled", message=f"processor {current} -> {decision.replicas}: {decision.reason}")
        patch.status["scaling"] = {
            "replicas": decision.replicas,
            "lastScaleTime": stamp,
            "lastDecision": {**record, "time": stamp},
            "lastEvaluation": {**record, "time": stamp},
        }
        patch.status["helm"] = {
            "revision": outcome.release.revision,
            "digest": outcome.digest,
            "lastAppliedTime": stamp,
            "error": None,
        }
        return
    last = scaling.get("lastEvaluation") or {}
    if {k: last.get(k) for k in record} != record or scaling.get("replicas") != current:
        patch.status["scaling"] = {"replicas": current, "lastEvaluation": {**record, "time": st.now()}}


@kopf.on.delete(GROUP, VERSION, PLURAL)
def delete(name: str, namespace: str | None, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """helm uninstall (waiting until the release's objects are gone); then kopf drops the finalizer."""
    namespace = _namespaced(namespace)
    rt = _runtime(memo)
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
    metrics.forget(namespace, name)
