"""Prometheus metrics of the history writer."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LABELS = ("site", "component")
READINGS = Counter("gridwatch_history_readings_total", "Enriched readings merged into rollups", LABELS)
ROWS = Counter("gridwatch_history_rows_upserted_total", "Rollup rows inserted or merged", LABELS)
SKIPPED = Counter(
    "gridwatch_history_replayed_messages_total", "Kafka records skipped because they were already applied", LABELS
)
DUPLICATES = Counter("gridwatch_history_duplicate_readings_total", "Repeated (sensor, ts) readings dropped", LABELS)
DLQ = Counter("gridwatch_history_dlq_messages_total", "Messages sent to the dead-letter topic", LABELS)
DB_ERRORS = Counter("gridwatch_history_db_errors_total", "Failed PostgreSQL writes (retried)", LABELS)
BATCH = Histogram(
    "gridwatch_history_batch_seconds",
    "Time to write one consumed batch",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG = Gauge("gridwatch_history_consumer_lag", "Messages behind the log end", (*LABELS, "partition"))
PARTITIONS = Counter("gridwatch_history_partitions_created_total", "Daily partitions created", LABELS)
DROPPED = Counter("gridwatch_history_partitions_dropped_total", "Partitions or chunks dropped by retention", LABELS)
