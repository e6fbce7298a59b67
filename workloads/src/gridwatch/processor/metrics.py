"""Prometheus metrics of the stream processor."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from gridwatch.common.bulkhist import BulkHistogram
from gridwatch.common.metrics import LABELS, announce
from gridwatch.common.schema import Severity

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
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LAG = Gauge("gridwatch_processor_consumer_lag", "Messages behind the log end", (*LABELS, "partition"))
SENSORS = Gauge("gridwatch_processor_sensors", "Sensors tracked by this replica", LABELS)
ENERGY = Counter(
    "gridwatch_processor_energy_joules_total",
    "Energy of the power readings this replica applied (power x time since the sensor's previous reading); "
    "each reading is counted by the one replica that owns its sensor, so sum by (site) is the site's energy",
    (*LABELS, "direction"),
)
ENERGY_DIRECTIONS = ("import", "export")  # drawn from the grid / fed back (negative power)
JOULES_PER_KWH = 3.6e6
STORE_ERRORS = Counter("gridwatch_processor_store_errors_total", "Failed Redis writes (retried)", LABELS)
MODEL_VERSION = Gauge(
    "gridwatch_processor_model_version",
    "Registry version of the detector model this replica serves (0: none, fitted locally or forest off)",
    (*LABELS, "kind"),
)
MODEL_LOAD_FAILURES = Counter(
    "gridwatch_processor_model_load_failures_total",
    "Promoted models that failed to load (the replica kept serving the one it had)",
    (*LABELS, "kind"),
)
HEARTBEAT = Gauge(
    "gridwatch_processor_producer_heartbeat_timestamp_seconds",
    "When this replica last received a heartbeat of a producer (unix time)",
    (*LABELS, "producer"),
)

# Anomaly kinds the scorer reports (processor.scoring.KINDS without the empty "no anomaly" kind).
ANOMALY_KINDS = ("spike", "drift", "stuck", "overheat", "dropout", "deviation")
# Why a message went to the DLQ: a fixed set so the reason label cannot explode.
DLQ_REASONS = ("invalid", "wrong_site", "timestamp", "implausible", "unexpected_type", "other")

# A producer silent this long is taken as retired: its heartbeat series goes, so ProducerDown resolves.
FORGET_PRODUCER_S = 3600.0
_beats: dict[tuple[str, str, str], float] = {}
_beats_lock = threading.Lock()


def init(site: str) -> dict[str, str]:
    """Create every series at its starting value so rates, increases and alerts see them from the start."""
    labels = announce(site, "processor")
    for counter in (READINGS, REPLAYS, STORE_ERRORS):
        counter.labels(**labels)
    for kind in ANOMALY_KINDS:
        ANOMALIES.labels(**labels, kind=kind)
    for reason in DLQ_REASONS:
        DLQ.labels(**labels, reason=reason)
    for severity in (Severity.WARNING, Severity.CRITICAL):
        ALERTS.labels(**labels, severity=severity.value)
    SENSORS.labels(**labels).set(0)
    for direction in ENERGY_DIRECTIONS:
        ENERGY.labels(**labels, direction=direction)
    return labels


def count_energy(labels: dict[str, str], energy_kwh: npt.NDArray[np.float64]) -> None:
    """Add a batch's per-reading energy (kWh, negative when fed back) to the import and export counters."""
    imported = float(energy_kwh[energy_kwh > 0].sum())
    exported = float(-energy_kwh[energy_kwh < 0].sum())
    if imported > 0:
        ENERGY.labels(**labels, direction="import").inc(imported * JOULES_PER_KWH)
    if exported > 0:
        ENERGY.labels(**labels, direction="export").inc(exported * JOULES_PER_KWH)


def dlq_reason(reason: str) -> str:
    """Map a dead-letter reason text to one of DLQ_REASONS."""
    text = reason.lower()
    if text.startswith("invalid"):
        return "invalid"
    if "site" in text:
        return "wrong_site"
    if text.startswith("timestamp"):
        return "timestamp"
    if text.startswith("implausible"):
        return "implausible"
    if text.startswith("unexpected"):
        return "unexpected_type"
    return "other"


class BulkFamily(Collector):
    """One registered histogram name whose label sets are BulkHistograms (one per site in this process).

    BulkHistogram registers one fixed label set under its name; a process running two sites (tests do)
    would register the name twice. This collector owns the name and merges its children's samples.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.buckets = tuple(buckets)
        self._children: dict[tuple[tuple[str, str], ...], BulkHistogram] = {}
        self._lock = threading.Lock()
        REGISTRY.register(self)

    def child(self, labels: dict[str, str]) -> BulkHistogram:
        """The histogram of these label values (created on first use)."""
        key = tuple(labels.items())
        with self._lock:
            hist = self._children.get(key)
            if hist is None:
                hist = self._children[key] = BulkHistogram(
                    self.name, self.documentation, labels, self.buckets, registry=None
                )
            return hist

    def describe(self) -> Iterable[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=list(LABELS))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            children = list(self._children.values())
        merged: Metric | None = None
        for child in children:
            for family in child.collect():
                if merged is None:
                    merged = family
                else:
                    merged.samples.extend(family.samples)
        if merged is not None:
            yield merged


SCORES = BulkFamily("gridwatch_processor_anomaly_score", "Distribution of anomaly scores, per reading", SCORE_BUCKETS)
LATENCY = BulkFamily(
    "gridwatch_processor_end_to_end_latency_seconds",
    "Reading timestamp to its state written in Redis, per reading",
    LATENCY_BUCKETS,
)


def score_histogram(labels: dict[str, str]) -> BulkHistogram:
    """Distribution of anomaly scores, one observation per reading."""
    return SCORES.child(labels)


def latency_histogram(labels: dict[str, str]) -> BulkHistogram:
    """Reading timestamp to Redis write completed, one observation per reading."""
    return LATENCY.child(labels)


def observe_written(
    latency: BulkHistogram,
    labels: dict[str, str],
    reading_ts: npt.NDArray[np.float64] | None,
    producers: Iterable[str],
    written_at: float,
    exemplar: dict[str, str] | None = None,
) -> None:
    """Record what one batch's completed Redis write means: per-reading latency (the batch's trace id as the
    exemplar of its slowest reading) and producer liveness."""
    if reading_ts is not None and reading_ts.size:
        latency.observe_many(np.maximum(written_at - reading_ts, 0.0), exemplar)
    with _beats_lock:
        for producer in producers:
            HEARTBEAT.labels(**labels, producer=producer).set(written_at)
            _beats[(labels["site"], labels["component"], producer)] = written_at
        if _beats and written_at - min(_beats.values()) > FORGET_PRODUCER_S:
            for key in [k for k, seen in _beats.items() if written_at - seen > FORGET_PRODUCER_S]:
                del _beats[key]
                with contextlib.suppress(KeyError):
                    HEARTBEAT.remove(*key)
