"""Reconcile, observe and scale one EnergySite: the logic under the kopf handlers, free of kopf.

Every function takes the shared Runtime (helm, Kafka, registry, settings) and a `Notify` for
Kubernetes events, so unit tests drive it with a fake Helm and fake Kafka and collect the events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiException

from gridwatch_operator import keda, kube, metrics, rollout
from gridwatch_operator import status as st
from gridwatch_operator.autoscaler import decide
from gridwatch_operator.capacity import Sample
from gridwatch_operator.drift import find
from gridwatch_operator.flow import heartbeat, sensors_reporting
from gridwatch_operator.helm import Helm, HelmError, Outcome, deployments
from gridwatch_operator.kafkaauth import SecretReader, target
from gridwatch_operator.maintenance import ScheduleError
from gridwatch_operator.readings import ReadingsLag
from gridwatch_operator.registry import Registry, SiteState
from gridwatch_operator.settings import GridwatchOperatorSettings
from gridwatch_operator.spec import SiteSpec
from gridwatch_operator.topics import GroupLag, Kafka, TopicsError
from gridwatch_operator.values import autoscaled, helm_values, keda_engine, merge, processor_replicas

RELEASE_RECHECK_SECONDS = 30.0  # how often a timer asks helm about a release it does not know yet

Notify = Callable[[str, str, str], None]
"""Record a Kubernetes event: (type "Normal" or "Warning", reason, message)."""


@dataclass
class Runtime:
    """Everything handlers share, kept in kopf's memo."""

    settings: GridwatchOperatorSettings
    helm: Helm
    kafka: Kafka
    registry: Registry
    secrets: SecretReader = kube.read_secret_data  # the Secrets spec.kafka references (kafkaauth)
    scale: Callable[[str, str, int], None] = kube.scale_deployment  # (namespace, Deployment, replicas)
    keda_available: Callable[[], bool] = kube.keda_available  # the cluster serves scaledobjects.keda.sh


class SiteFailed(Exception):
    """Reconciliation failed; `fields` are the status fields to record anyway."""

    def __init__(self, reason: str, message: str, fields: dict[str, Any]) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields


def desired_status(status: Mapping[str, Any], site: SiteState) -> Mapping[str, Any]:
    """The status, with the autoscaler's latest choice even if kopf's body predates it."""
    if site.scaled_replicas is None:
        return status
    return {**status, "scaling": {**(status.get("scaling") or {}), "replicas": site.scaled_replicas}}


def site_values(
    rt: Runtime,
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    keda_available: bool = False,
) -> dict[str, Any]:
    """The site's values, with the operator's monitoring selector labels, then its siteValues, merged over them."""
    values = helm_values(
        name,
        spec,
        status,
        default_image=rt.settings.workloads_image,
        pull_policy=rt.settings.image_pull_policy,
        namespace=namespace,
        keda_available=keda_available,
    )
    if rt.settings.monitoring_selector_labels:
        values = merge(values, {"metrics": {"selectorLabels": dict(rt.settings.monitoring_selector_labels)}})
    return merge(values, rt.settings.site_values)


def apply_release(
    rt: Runtime, site: SiteState, name: str, namespace: str, values: Mapping[str, Any], *, changed: bool = True
) -> Outcome:
    """helm upgrade --install under the site's lock (rollout control may hold its chart); remembers its Deployments.

    `changed`: the spec or the scale changed since the last apply; when False and the chart upgrade is held,
    nothing is applied (the values may differ only by what the new operator maps differently: part of the upgrade).
    """
    settings = rt.settings
    policy = site.upgrade or rollout.Policy.resolve(None, settings.upgrade_policy, settings.maintenance_windows)
    now = dt.datetime.now(dt.UTC)
    with site.lock:
        result = rollout.ensure(rt.helm, name, namespace, values, policy, now, apply_held=changed)
        outcome = result.outcome
        site.upgrade_status = result.status
        site.revision = outcome.release.revision
        site.deployments = deployments(outcome.release.manifest)
    metrics.HELM_REVISION.labels(**metrics.labels(namespace, site.site_id or name)).set(outcome.release.revision)
    return outcome


def brokers(rt: Runtime, parsed: SiteSpec) -> str:
    """The site's bootstrap servers with the TLS/SASL settings of spec.kafka (a KafkaTarget); raises TopicsError
    (KafkaAuthError) when a referenced Secret or key is missing."""
    return target(parsed.kafka.bootstrap_servers, parsed.kafka.security, parsed.namespace, rt.secrets)


def ensure_topics(rt: Runtime, parsed: SiteSpec, notify: Notify) -> dict[str, Any]:
    """Create or raise the site's topics (the operator's only topic creation); the status.kafka block."""
    kafka = parsed.kafka
    if not kafka.manage_topics:
        return {"message": "topics are managed outside the operator (kafka.manageTopics=false)", "error": None}
    try:
        outcome = rt.kafka.ensure_topics(brokers(rt, parsed), kafka.topics, kafka.partitions, kafka.replication_factor)
    except TopicsError as exc:
        notify("Warning", "KafkaFailed", str(exc))
        return {"error": str(exc), "message": None}
    states = set(outcome.topics.values())
    if any(s.startswith("kept") for s in states):
        notify("Warning", "PartitionsKept", outcome.message)
    elif any(s == "created" or s.startswith("raised") for s in states):
        notify("Normal", "TopicsReconciled", outcome.message)
    return {"partitions": kafka.partitions, "topics": outcome.topics, "message": outcome.message, "error": None}


def apply_site(
    rt: Runtime,
    parsed: SiteSpec,
    namespace: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    generation: int,
    notify: Notify,
) -> dict[str, Any]:
    """Topics, then the Helm release. Returns status fields; raises SiteFailed (with fields) on errors."""
    name = parsed.name
    site = rt.registry.get(namespace, name)
    site.site_id = parsed.site_id
    site.upgrade = upgrade_policy(rt, parsed)
    fields: dict[str, Any] = {"siteId": parsed.site_id, "kafka": ensure_topics(rt, parsed, notify)}
    pinned = {**status, "siteId": parsed.site_id}  # the values carry the identity parsed (and recorded) here
    with_keda = keda_engine(spec) and keda_present(rt, site, notify)
    values = site_values(rt, name, namespace, spec, desired_status(pinned, site), keda_available=with_keda)
    previous = dict(status.get("helm") or {})
    applied = spec_digest(spec)
    try:
        changed = status.get("observedGeneration") != generation and previous.get("specDigest") != applied
        outcome = apply_release(rt, site, name, namespace, values, changed=changed)
    except HelmError as exc:
        notify("Warning", "HelmFailed", str(exc))
        fields["helm"] = {**previous, "release": name, "error": str(exc)}
        raise SiteFailed("helm", f"helm upgrade failed: {exc}", fields) from exc
    release = outcome.release
    fields["helm"] = {
        "release": name,
        "revision": release.revision,
        "chartVersion": release.chart_version or rt.helm.chart_version(),
        "digest": outcome.digest,
        "specDigest": applied,
        "lastAppliedTime": st.now() if outcome.changed else previous.get("lastAppliedTime") or st.now(),
        "error": None,
    }
    fields["observedGeneration"] = generation
    fields["upgrade"] = site.upgrade_status
    site.keda_rendered = with_keda if keda_engine(spec) else None
    fields["scaling"] = scaling_owner(parsed, spec, site, name, with_keda)
    before, after = status.get("upgrade") or {}, site.upgrade_status or {}
    if after.get("pending") and before.get("message") != after.get("message"):
        notify("Normal", "UpgradeHeld", str(after.get("message")))
    elif before.get("pending") and not after.get("pending"):
        notify("Normal", "ChartUpgraded", str(after.get("message")))
    if outcome.changed:
        verb = "Installed" if release.revision == 1 else "Upgraded"
        notify("Normal", verb, f"helm release {name} at revision {release.revision}")
    if outcome.warnings:
        notify("Warning", "HelmWarnings", "; ".join(outcome.warnings)[:1000])
    if fields["kafka"].get("error"):
        raise SiteFailed("kafka", f"Kafka topics: {fields['kafka']['error']}", fields)
    return fields


def keda_present(rt: Runtime, site: SiteState, notify: Notify) -> bool:
    """Whether the cluster serves KEDA's ScaledObjects; when the API cannot tell, what the last release rendered."""
    try:
        return rt.keda_available()
    except (ApiException, OSError) as exc:
        why = getattr(exc, "reason", None) or str(exc)
        notify("Warning", "KEDAUnknown", f"cannot tell whether {keda.SCALEDOBJECTS} is served: {why}")
        return bool(site.keda_rendered)


def scaling_owner(
    parsed: SiteSpec, spec: Mapping[str, Any], site: SiteState, name: str, with_keda: bool
) -> dict[str, Any]:
    """status.scaling's engine fields: KEDA's block for engine KEDA, else None (a merge patch deletes it)."""
    if keda_engine(spec):
        return keda.status_block(parsed.policy, parsed.kafka.partitions, with_keda, processor_deployment(site, name))
    return {"engine": keda.OPERATOR if autoscaled(spec) else None, "keda": None}


def spec_digest(spec: Mapping[str, Any]) -> str:
    """Digest of what the spec asks the release to be: every field but spec.upgrade (when, not what)."""
    body = {str(k): v for k, v in spec.items() if k != "upgrade"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def upgrade_policy(rt: Runtime, parsed: SiteSpec) -> rollout.Policy:
    """The site's upgrade policy: spec.upgrade, or the operator's siteUpgrades default for Inherit.

    A schedule the operator cannot parse (refused as InvalidSpec by the reconcile handler) holds every chart upgrade.
    """
    try:
        return rollout.Policy.resolve(parsed.upgrade, rt.settings.upgrade_policy, rt.settings.maintenance_windows)
    except ScheduleError:
        return rollout.Policy(rollout.MANUAL)


def observed(
    rt: Runtime,
    name: str,
    namespace: str,
    status: Mapping[str, Any],
    generation: int,
    live: Iterable[Mapping[str, Any]],
    *,
    paused: bool,
    spec_error: str | None = None,
) -> dict[str, Any]:
    """Status fields from the release's live Deployments (conditions, components, paused, a spec refused)."""
    site = rt.registry.get(namespace, name)
    found = st.components(site.deployments or {}, live)
    window = rt.settings.data_flowing_window_seconds
    if site.upgrade_status is not None:
        # the status timer's copy of the body can predate the reconcile that held or upgraded the chart: the
        # UpgradePending condition follows what this operator last did, not that stale copy (it flapped to False)
        status = {**status, "upgrade": site.upgrade_status}
    fields = st.observe(
        status, generation, found, paused=paused, stamp=st.now(), window_s=window, spec_error=spec_error
    )
    metrics.record_conditions(namespace, site.site_id or str(status.get("siteId") or name), fields["conditions"])
    return fields


def ensure_known(rt: Runtime, site: SiteState, name: str, namespace: str) -> None:
    """After a restart before the resume handler ran: learn the release's Deployments from helm."""
    if site.deployments is not None or time.monotonic() - site.release_checked < RELEASE_RECHECK_SECONDS:
        return
    site.release_checked = time.monotonic()
    with site.lock:
        release = rt.helm.status(name, namespace)
        if release is not None and release.status == "deployed":
            site.revision = release.revision
            site.deployments = deployments(release.manifest or rt.helm.manifest(name, namespace))


def processor_deployment(site: SiteState, name: str) -> str:
    """The release's processor Deployment (by its component label; `<release>-processor` before it is known)."""
    for deployment, manifest in (site.deployments or {}).items():
        if ((manifest.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/component") == "processor":
            return deployment
    return f"{name}-processor"


def chosen_replicas(site: SiteState, name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, int]:
    """Replicas the operator owns instead of the manifest: the autoscaled processors' (status.scaling.replicas)."""
    if not autoscaled(spec):
        return {}
    return {processor_deployment(site, name): processor_replicas(spec, desired_status(status, site))}


def repair_drift(
    site: SiteState,
    name: str,
    namespace: str,
    live: Iterable[Mapping[str, Any]],
    notify: Notify,
    chosen: Mapping[str, int] | None = None,
) -> list[str]:
    """Restore Deployments deleted or scaled by hand, to the manifest's replicas or the operator's `chosen` ones
    (chosen_replicas); returns what was repaired."""
    repaired: list[str] = []
    with site.lock:
        if site.deleting or not site.deployments:
            return repaired
        seen = {str(d["name"]): d["replicas"] for d in live}
        for drift in find(site.deployments, seen, chosen):
            current = kube.read_deployment(namespace, drift.name)  # the watch may lag behind
            if drift.missing:
                manifest = dict(site.deployments[drift.name])
                if chosen and drift.name in chosen:  # recreated at the autoscaler's count, not the API's default 1
                    manifest["spec"] = {**(manifest.get("spec") or {}), "replicas": chosen[drift.name]}
                if current is not None or not kube.create_deployment(namespace, manifest, name):
                    continue
            else:
                have = None if current is None else (current.get("spec") or {}).get("replicas")
                if current is None or have == drift.want or drift.want is None:
                    continue
                kube.scale_deployment(namespace, drift.name, drift.want)
            kind = "deleted" if drift.missing else "scaled"
            metrics.DRIFT_REPAIRS.labels(**metrics.labels(namespace, site.site_id or name), kind=kind).inc()
            notify("Warning", "DriftRepaired", drift.message)
            repaired.append(drift.message)
    return repaired


def data_flow(rt: Runtime, parsed: SiteSpec, warn: Callable[[str], None], now: float) -> dict[str, Any]:
    """status.dataFlow: the newest message time on the readings topic and the sensors the heartbeats report."""
    try:
        newest, values = rt.kafka.tail(brokers(rt, parsed), parsed.kafka.readings_topic, rt.settings.tail_messages)
    except TopicsError as exc:
        warn(f"data flow unknown: {exc}")
        return {"error": str(exc)}
    beats = [b for b in map(heartbeat, values) if b is not None]
    sensors = sensors_reporting(beats, now, rt.settings.data_flowing_window_seconds)
    return {"lastMessageTime": newest, "sensorsReporting": sensors, "error": None}


def measure_lag(
    rt: Runtime, parsed: SiteSpec, warn: Callable[[str], None]
) -> tuple[GroupLag | None, ReadingsLag | None]:
    """The processor group's lag in messages and in readings (readings.py: counted, or sampled); None if unknown."""
    kafka = parsed.kafka
    try:
        where = brokers(rt, parsed)
        group = rt.kafka.lag(where, kafka.processor_group, kafka.readings_topic)
    except TopicsError as exc:
        warn(f"consumer lag unknown: {exc}")
        return None, None
    try:
        readings = rt.kafka.readings_lag(where, kafka.readings_topic, group, rt.settings.lag_sample_messages)
    except TopicsError as exc:
        warn(f"consumer lag in readings unknown: {exc}")
        return group, None
    if readings is None:
        warn("consumer lag in readings unknown: no lagging message could be read")
    return group, readings


def autoscale(
    rt: Runtime,
    parsed: SiteSpec,
    namespace: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    notify: Notify,
    warn: Callable[[str], None],
    now: float,
) -> dict[str, Any]:
    """Measure lag and data flow; with autoscaling, scale the processors by lag. Returns the status patch."""
    name = parsed.name
    site = rt.registry.get(namespace, name)
    site.site_id = parsed.site_id
    site.upgrade = upgrade_policy(rt, parsed)
    kafka = parsed.kafka
    patch: dict[str, Any] = {}
    partitions = kafka.partitions
    labels = metrics.labels(namespace, parsed.site_id)
    group, readings = measure_lag(rt, parsed, warn)
    if group is not None:
        partitions = group.partitions or partitions
        metrics.CONSUMER_LAG.labels(**labels).set(group.messages)
        if status.get("consumerLag") != group.messages:
            patch["consumerLag"] = group.messages
    if readings is not None:
        metrics.CONSUMER_LAG_READINGS.labels(**labels).set(readings.readings)
        if status.get("consumerLagReadings") != readings.readings:
            patch["consumerLagReadings"] = readings.readings
        estimate = {
            "method": readings.method,
            "sampledMessages": readings.sampled_messages,
            "readingsPerMessage": readings.per_message,
        }
        if status.get("lagEstimate") != {k: v for k, v in estimate.items() if v is not None}:
            patch["lagEstimate"] = estimate
    if parsed.policy.lag_unit == "messages":
        lag = None if group is None else group.messages
    else:
        lag = None if readings is None else readings.readings
    data = data_flow(rt, parsed, warn, now)
    if status.get("dataFlow") != {k: v for k, v in data.items() if v is not None}:
        patch["dataFlow"] = data  # a None deletes the key in the merge patch
    if data.get("sensorsReporting") is not None and status.get("sensorsReporting") != data["sensorsReporting"]:
        patch["sensorsReporting"] = data["sensorsReporting"]
    if not parsed.autoscaling:
        return patch
    if keda_engine(spec):
        return {**patch, **keda_scaling(rt, parsed, namespace, spec, status, notify)}
    scaling = dict(status.get("scaling") or {})
    current = processor_replicas(spec, desired_status(status, site))
    ready = ((status.get("components") or {}).get("processor") or {}).get("ready")
    scaled_at = st.parse_time(scaling.get("lastScaleTime"))
    joined = ready if isinstance(ready, int) else None
    flow = site.throughput
    remembered = scaling.get("capacity") or {}
    if not flow.busy and not flow.looks and isinstance(remembered, Mapping):  # first look since the operator started
        each, at = remembered.get("messagesPerSecondPerProcessor"), st.parse_time(remembered.get("measuredAt"))
        if isinstance(each, int | float) and at is not None:
            flow.restore(at, float(each), now)
    if group is not None:
        windows = group.windows.values()
        sample = Sample(now, sum(w.end for w in windows), sum(w.first for w in windows))
        flow.observe(sample, current, joined)
    capacity = capacity_status(flow.best(), remembered)
    needed = flow.needed(current)
    decision = decide(parsed.policy, current, lag, partitions, now, scaled_at, joined, needed, flow.describe())
    record = {
        "from": current,
        "to": decision.replicas,
        "lag": lag,
        "unit": parsed.policy.lag_unit,
        "reason": decision.reason,
    }
    if decision.changed:
        deployment = processor_deployment(site, name)
        try:
            with site.lock:
                rt.scale(namespace, deployment, decision.replicas)
                site.scaled_replicas = decision.replicas
        except (ApiException, OSError) as exc:
            why = getattr(exc, "reason", None) or str(exc)
            notify("Warning", "ScalingFailed", f"processor {current} -> {decision.replicas}: {why}")
            metrics.RECONCILE_ERRORS.labels(**labels, reason="scaling").inc()
            failed = {
                **record,
                "to": current,
                "reason": f"scaling to {decision.replicas} failed: {why}",
                "time": st.now(),
            }
            patch["scaling"] = {"lastEvaluation": failed, **capacity}
            return patch
        stamp = st.now()
        metrics.SCALING_DECISIONS.labels(**labels, direction=decision.direction).inc()
        notify("Normal", "Scaled", f"processor {current} -> {decision.replicas}: {decision.reason}")
        patch["scaling"] = {
            "replicas": decision.replicas,
            "lastScaleTime": stamp,
            "lastDecision": {**record, "time": stamp},
            "lastEvaluation": {**record, "time": stamp},
            **capacity,
        }
        return patch
    last = scaling.get("lastEvaluation") or {}
    if {k: last.get(k) for k in record} != record or scaling.get("replicas") != current:
        patch["scaling"] = {"replicas": current, "lastEvaluation": {**record, "time": st.now()}, **capacity}
    elif capacity:
        patch["scaling"] = capacity
    return patch


def capacity_status(best: tuple[float, float] | None, stored: object) -> dict[str, Any]:
    """{"capacity": ...} when the best busy window differs from the one in the status, else {} (no status churn)."""
    if best is None:
        return {}
    at, each = best
    value = {
        "messagesPerSecondPerProcessor": round(each, 1),
        "measuredAt": dt.datetime.fromtimestamp(int(at), dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    if isinstance(stored, Mapping):
        old, when = stored.get("messagesPerSecondPerProcessor"), st.parse_time(stored.get("measuredAt"))
        # a newer window of the same capacity is written at most every 5 minutes: it only keeps the memory fresh
        if isinstance(old, int | float) and when is not None and abs(old - each) <= 0.01 * each and at - when < 300:
            return {}
    return {"capacity": value}


def keda_scaling(
    rt: Runtime, parsed: SiteSpec, namespace: str, spec: Mapping[str, Any], status: Mapping[str, Any], notify: Notify
) -> dict[str, Any]:
    """Engine KEDA: never scale (KEDA's HPA owns the replicas); re-render the release when KEDA's CRDs appeared or
    went away since the last helm call; report who scales in status.scaling."""
    name = parsed.name
    site = rt.registry.get(namespace, name)
    available = keda_present(rt, site, notify)
    if site.keda_rendered is not None and available != site.keda_rendered:
        pinned = {**status, "siteId": parsed.site_id}
        values = site_values(rt, name, namespace, spec, desired_status(pinned, site), keda_available=available)
        try:
            apply_release(rt, site, name, namespace, values)
        except HelmError as exc:
            notify("Warning", "HelmFailed", str(exc))
            available = site.keda_rendered
        else:
            site.keda_rendered = available
            what = "rendered the ScaledObject" if available else "removed the ScaledObject"
            notify("Normal", "KEDAChanged", f"{keda.SCALEDOBJECTS} served: {available}; {what}")
    block = keda.status_block(parsed.policy, parsed.kafka.partitions, available, processor_deployment(site, name))
    scaling = status.get("scaling") or {}
    if {k: scaling.get(k) for k in block} != block:
        return {"scaling": block}
    return {}
