"""Prometheus metrics of the operator, served on /metrics (labels: namespace, site, component)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# no `_created` series beside every counter and histogram (as the workloads)
disable_created_metrics()  # type: ignore[no-untyped-call]

LABELS = ("namespace", "site", "component")
COMPONENT = "operator"
KNOWN_CONDITIONS = ("Ready", "Progressing", "Degraded", "DataFlowing", "UpgradePending")

RECONCILE = Histogram(
    "gridwatch_operator_reconcile_seconds",
    "Time to reconcile one EnergySite (topics and helm upgrade)",
    LABELS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
RECONCILE_ERRORS = Counter(
    "gridwatch_operator_reconcile_errors_total", "Failed reconciliations by reason", (*LABELS, "reason")
)
HELM_REVISION = Gauge("gridwatch_operator_helm_revision", "Helm revision of the site's release", LABELS)
SCALING_DECISIONS = Counter(
    "gridwatch_operator_scaling_decisions_total",
    "Processor autoscaling decisions that changed replicas, by direction",
    (*LABELS, "direction"),
)
CONSUMER_LAG = Gauge(
    "gridwatch_operator_consumer_lag",
    "Processor consumer group lag on the readings topic in Kafka messages, summed over partitions",
    LABELS,
)
CONSUMER_LAG_READINGS = Gauge(
    "gridwatch_operator_consumer_lag_readings",
    "Processor consumer group lag on the readings topic in readings (counted, or sampled: docs/autoscaling.md), "
    "summed over partitions",
    LABELS,
)
DRIFT_REPAIRS = Counter(
    "gridwatch_operator_drift_repairs_total",
    "Release objects restored after a manual change, by kind",
    (*LABELS, "kind"),
)

CONDITION = Gauge(
    "gridwatch_operator_site_condition",
    "1 while the EnergySite's status condition is True, else 0 (Ready, Progressing, Degraded, DataFlowing, "
    "UpgradePending)",
    (*LABELS, "condition"),
)


def labels(namespace: str, site: str) -> dict[str, str]:
    """Label values for one site; `site` is its identity, the label its workloads' metrics carry too."""
    return {"namespace": namespace, "site": site, "component": COMPONENT}


def record_conditions(namespace: str, site: str, conditions: Iterable[Mapping[str, Any]]) -> None:
    """Export the site's status conditions as gridwatch_operator_site_condition (1 = True)."""
    for cond in conditions:
        kind = cond.get("type")
        if kind:
            true = cond.get("status") == "True"
            CONDITION.labels(**labels(namespace, site), condition=str(kind)).set(1 if true else 0)


def forget(namespace: str, site: str) -> None:
    """Drop a deleted site's gauges so they do not linger."""
    for gauge in (HELM_REVISION, CONSUMER_LAG, CONSUMER_LAG_READINGS):
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, site, COMPONENT)
    for kind in KNOWN_CONDITIONS:
        with contextlib.suppress(KeyError):
            CONDITION.remove(namespace, site, COMPONENT, kind)
