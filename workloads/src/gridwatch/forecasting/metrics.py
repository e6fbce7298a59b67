"""Prometheus metrics of the forecaster (gridwatch_forecaster_*)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from gridwatch.common.metrics import LABELS

RUNS = Counter("gridwatch_forecaster_runs_total", "Forecast steps completed", LABELS)
ERRORS = Counter("gridwatch_forecaster_errors_total", "Forecast steps that failed (retried next step)", LABELS)
RUN_SECONDS = Histogram(
    "gridwatch_forecaster_run_seconds",
    "Wall time of one forecast step: history read, fit, predict, publish",
    LABELS,
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
)
SERIES = Gauge("gridwatch_forecaster_series", "Series forecast in the last step, by scope", (*LABELS, "scope"))
PUBLISHED = Counter("gridwatch_forecaster_forecasts_total", "Forecast messages published", LABELS)
BACKTEST_MASE = Gauge(
    "gridwatch_forecaster_backtest_mase", "Site series backtest MASE by model (last selection)", (*LABELS, "model")
)
MODEL = Gauge(
    "gridwatch_forecaster_model_info",
    "1 for the model (and version) serving the site forecast",
    (*LABELS, "model", "version"),
)
REGISTRY_VERSION = Gauge(
    "gridwatch_forecaster_model_version",
    "Registry version of the trained selection this forecaster serves (0: none, it backtests itself)",
    LABELS,
)
MODEL_LOAD_FAILURES = Counter(
    "gridwatch_forecaster_model_load_failures_total",
    "Promoted selections that failed to load (the forecaster kept serving the one it had)",
    LABELS,
)
LAST_SUCCESS = Gauge("gridwatch_forecaster_last_success_timestamp_seconds", "When the last step succeeded", LABELS)
