"""Prometheus metrics of the stream processor."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LABELS = ("site", "component")
READINGS = Counter("gridwatch_processor_readings_total", "Readings scored and written", LABELS)
REPLAYS = Counter("gridwatch_processor_replayed_readings_total", "Readings skipped as replays", LABELS)
ANOMALIES = Counter("gridwatch_processor_anomalies_total", "Anomalous readings by kind", (*LABELS, "kind"))
DLQ = Counter("gridwatch_processor_dlq_messages_total", "Messages sent to the dead-letter topic", (*LABELS, "reason"))
ALERTS = Counter("gridwatch_processor_alerts_total", "Alerts published", (*LABELS, "severity"))
BATCH = Histogram(
    "gridwatch_processor_batch_seconds",
    "Time to process one consumed batch",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LATENCY = Histogram(
    "gridwatch_processor_end_to_end_latency_seconds",
    "Reading timestamp to state written in Redis",
    LABELS,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LAG = Gauge("gridwatch_processor_consumer_lag", "Messages behind the log end", (*LABELS, "partition"))
SENSORS = Gauge("gridwatch_processor_sensors", "Sensors tracked by this replica", LABELS)
STORE_ERRORS = Counter("gridwatch_processor_store_errors_total", "Failed Redis writes (retried)", LABELS)
