"""Prometheus metrics of the grid ingestor."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from gridwatch.common.metrics import LABELS, announce

SOURCE = (*LABELS, "source")
FETCHES = Counter("gridwatch_grid_fetches_total", "HTTP requests to grid APIs by outcome", (*SOURCE, "outcome"))
SIGNALS = Counter("gridwatch_grid_signals_total", "GridSignal messages produced", SOURCE)
LAST_VALUE = Gauge("gridwatch_grid_last_value", "Latest good value per series", (*SOURCE, "metric", "fuel"))
LAST_SUCCESS = Gauge(
    "gridwatch_grid_last_success_timestamp_seconds", "When a poll of the source last succeeded (unix time)", SOURCE
)
VALUE_AGE = Gauge("gridwatch_grid_value_age_seconds", "Seconds since the source's last good value was fetched", SOURCE)
STREAMING = Gauge("gridwatch_grid_streaming", "1 while the /stream is started", LABELS)


def init(site: str) -> dict[str, str]:
    """Create the workload's series."""
    labels = announce(site, "grid")
    STREAMING.labels(**labels).set(0)
    return labels
