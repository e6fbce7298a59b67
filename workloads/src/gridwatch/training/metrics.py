"""Prometheus metrics of the trainer (gridwatch_trainer_*)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from gridwatch.common.metrics import LABELS

RUNS = Counter(
    "gridwatch_trainer_runs_total",
    "Training runs by model kind and outcome (promoted, kept, skipped, failed)",
    (*LABELS, "kind", "outcome"),
)
SECONDS = Histogram(
    "gridwatch_trainer_run_seconds",
    "Wall time of one training run: history read, fit, backtest, register",
    (*LABELS, "kind"),
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
METRIC = Gauge(
    "gridwatch_trainer_candidate_metric",
    "Primary backtest metric of the last candidate (lower is better)",
    (*LABELS, "kind"),
)
LAST_SUCCESS = Gauge(
    "gridwatch_trainer_last_success_timestamp_seconds", "When a training run last registered a model", (*LABELS, "kind")
)
