"""A Prometheus histogram fed a whole numpy batch at a time (one observe per value is too slow)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class BulkHistogram(Collector):
    """Histogram with fixed buckets and label values, updated by `observe_many(values)`."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: dict[str, str],
        buckets: Sequence[float],
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.bounds = np.asarray(buckets, dtype=np.float64)
        self.counts = np.zeros(self.bounds.size + 1, dtype=np.int64)
        self.total = 0.0
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def observe_many(self, values: npt.NDArray[np.float64]) -> None:
        """Count every value into its bucket."""
        if values.size == 0:
            return
        slots = np.searchsorted(self.bounds, values, side="left")
        add = np.bincount(slots, minlength=self.counts.size)
        with self._lock:
            self.counts += add
            self.total += float(values.sum())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            cumulative = np.cumsum(self.counts).tolist()
            total = self.total
        family = HistogramMetricFamily(self.name, self.documentation, labels=list(self.labels))
        buckets = [(repr(float(b)), float(c)) for b, c in zip(self.bounds.tolist(), cumulative, strict=False)]
        buckets.append(("+Inf", float(cumulative[-1])))
        family.add_metric(list(self.labels.values()), buckets, total)
        yield family
