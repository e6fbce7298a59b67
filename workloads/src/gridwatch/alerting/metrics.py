"""Prometheus metrics of the alert engine."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LABELS = ("site", "component")
MESSAGES = Counter("gridwatch_alerts_messages_total", "Processor alerts consumed from Kafka", LABELS)
REPLAYED = Counter("gridwatch_alerts_replayed_messages_total", "Kafka records skipped as already applied", LABELS)
REPUBLISHED = Counter(
    "gridwatch_alerts_republished_total",
    "Processor alerts dropped as republished copies (reading timestamp not newer than the last applied)",
    LABELS,
)
ACTIONS = Counter("gridwatch_alerts_lifecycle_actions_total", "Lifecycle changes applied", (*LABELS, "action"))
OPEN = Gauge("gridwatch_alerts_open", "Alerts not cleared, by severity", (*LABELS, "severity"))
EVALUATION = Histogram(
    "gridwatch_alerts_evaluation_seconds",
    "Time to evaluate the rules on one snapshot and apply the result",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
NOTIFICATIONS = Counter(
    "gridwatch_alerts_notifications_total", "Notification attempts by route and outcome", (*LABELS, "route", "outcome")
)
PENDING = Gauge("gridwatch_alerts_outbox_pending", "Notifications waiting for delivery", LABELS)
ERRORS = Counter("gridwatch_alerts_errors_total", "Failed PostgreSQL or Redis operations (retried)", (*LABELS, "what"))
