"""Per-partition consumer lag from librdkafka statistics, for every workload that consumes Kafka."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import msgspec
from prometheus_client import Gauge


class LagTracker:
    """Turns librdkafka statistics into per-partition consumer lag, dropping partitions no longer assigned."""

    def __init__(self, topic: str, gauge: Gauge, labels: dict[str, str]) -> None:
        self.topic = topic
        self.gauge = gauge
        self.labels = labels
        self.partitions: set[str] = set()
        self._lock = threading.Lock()

    def on_stats(self, stats_json: str) -> None:
        """stats_cb: set the lag of every assigned partition of the topic whose lag is known."""
        stats: dict[str, Any] = msgspec.json.decode(stats_json)
        current: dict[str, int] = {}
        partitions = stats.get("topics", {}).get(self.topic, {}).get("partitions", {})
        for pid, pstats in partitions.items():
            if int(pid) < 0 or pstats.get("fetch_state") in (None, "none", "stopped"):
                continue
            lag = int(pstats.get("consumer_lag", -1))
            if lag >= 0:
                current[pid] = lag
        with self._lock:
            for pid in self.partitions - current.keys():
                self._remove(pid)
            for pid, lag in current.items():
                self.gauge.labels(**self.labels, partition=pid).set(lag)
            self.partitions = set(current)

    def clear(self) -> None:
        """Forget every partition (after a revoke)."""
        with self._lock:
            for pid in self.partitions:
                self._remove(pid)
            self.partitions = set()

    def _remove(self, pid: str) -> None:
        with contextlib.suppress(KeyError):
            self.gauge.remove(self.labels["site"], self.labels["component"], pid)
