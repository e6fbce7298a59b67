"""Prometheus metrics of the operator, served on /metrics (labels: namespace, site, component)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram

LABELS = ("namespace", "site", "component")
COMPONENT = "operator"

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


def labels(namespace: str, site: str) -> dict[str, str]:
    """Label values for one site; `site` is its identity, the label its workloads' metrics carry too."""
    return {"namespace": namespace, "site": site, "component": COMPONENT}


def forget(namespace: str, site: str) -> None:
    """Drop a deleted site's gauges so they do not linger."""
    for gauge in (HELM_REVISION, CONSUMER_LAG, CONSUMER_LAG_READINGS):
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, site, COMPONENT)
