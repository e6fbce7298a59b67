"""A Prometheus histogram fed a whole numpy batch at a time (one observe per value is too slow)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar


class BulkHistogram(Collector):
    """Histogram with fixed buckets and label values, updated by `observe_many(values)`.

    A batch observed with an exemplar (a trace id) attaches it to the bucket of the batch's largest value, so the
    slowest readings of a batch link to its trace, as `Histogram.observe(v, exemplar)` does for one value.
    """

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
        self.exemplars: list[Exemplar | None] = [None] * (self.bounds.size + 1)
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def observe_many(self, values: npt.NDArray[np.float64], exemplar: dict[str, str] | None = None) -> None:
        """Count every value into its bucket; with `exemplar`, keep it on the bucket of the largest value."""
        if values.size == 0:
            return
        slots = np.searchsorted(self.bounds, values, side="left")
        add = np.bincount(slots, minlength=self.counts.size)
        top = int(np.argmax(values)) if exemplar else 0
        with self._lock:
            self.counts += add
            self.total += float(values.sum())
            if exemplar:
                self.exemplars[int(slots[top])] = Exemplar(dict(exemplar), float(values[top]), time.time())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            cumulative = np.cumsum(self.counts).tolist()
            total = self.total
            exemplars = list(self.exemplars)
        family = HistogramMetricFamily(self.name, self.documentation, labels=list(self.labels))
        edges = [*(repr(float(b)) for b in self.bounds.tolist()), "+Inf"]
        buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = [
            (edge, float(count)) if ex is None else (edge, float(count), ex)
            for edge, count, ex in zip(edges, cumulative, exemplars, strict=True)
        ]
        family.add_metric(list(self.labels.values()), buckets, total)
        yield family
