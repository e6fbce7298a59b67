"""Throughput from successive lag measurements: the topic's input rate and what one processor drains (messages/s).

Lag alone cannot tell a scale-down that is safe from one that will be undone: once N processors keep up, the lag
is near zero whatever N is, so a lag-only autoscaler drops to minReplicas, the lag climbs again and it scales back
up, once per cooldown under steady load. Two lag measurements a few seconds apart give the input rate (growth of
the log end) and the drain rate (growth of the committed offsets); while a backlog lasted through the whole
interval every processor was busy, so the drain rate per ready processor is what one of them can do. The scale-down
then keeps enough processors for the input rate at TARGET_UTILISATION of that capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_INTERVAL_S = 5.0  # shorter intervals are too noisy to give a rate (the sample is kept for a later one)
MAX_INTERVAL_S = 600.0  # longer ones (an operator that was away) start over
BUSY_BACKLOG_MESSAGES = 20  # per processor: a backlog this deep at both ends of an interval kept each one busy
CAPACITY_WEIGHT = 0.5  # weight of the newest busy interval in the capacity estimate
TARGET_UTILISATION = 0.8  # the scale-down keeps processors busy at most this share of their measured capacity


@dataclass(frozen=True)
class Sample:
    """Sums over the topic's partitions at one moment: log end (produced) and committed offsets (consumed)."""

    at: float
    produced: int
    consumed: int

    @property
    def backlog(self) -> int:
        """Messages not yet committed."""
        return max(0, self.produced - self.consumed)


@dataclass
class Throughput:
    """A site's rates, updated by each autoscale measurement (kept in memory; after a restart it is measured anew)."""

    last: Sample | None = None
    input_rate: float | None = None  # messages/s appended to the readings topic over the last interval
    per_processor: float | None = None  # messages/s one processor drained while busy (None: never measured)

    def observe(self, sample: Sample, replicas: int, ready: int | None) -> None:
        """Take a measurement; `replicas` processors ran since the last one, `ready` of them ready (None: unknown)."""
        prev = self.last
        if prev is None or sample.produced < prev.produced or sample.consumed < prev.consumed:
            self.last, self.input_rate = sample, None  # first look, or the topic or group was recreated
            return
        elapsed = sample.at - prev.at
        if elapsed < MIN_INTERVAL_S:
            return
        self.last = sample
        if elapsed > MAX_INTERVAL_S:
            self.input_rate = None
            return
        self.input_rate = (sample.produced - prev.produced) / elapsed
        drained = (sample.consumed - prev.consumed) / elapsed
        deep = BUSY_BACKLOG_MESSAGES * max(replicas, 1)
        busy = prev.backlog >= deep and sample.backlog >= deep and drained > 0
        if busy and replicas >= 1 and (ready is None or ready >= replicas):
            each = drained / replicas
            old = self.per_processor
            self.per_processor = each if old is None else old + CAPACITY_WEIGHT * (each - old)

    def needed(self) -> int | None:
        """Processors the input rate needs at TARGET_UTILISATION of the measured capacity; None when unknown."""
        if self.input_rate is None or not self.per_processor:
            return None
        return max(1, math.ceil(self.input_rate / (self.per_processor * TARGET_UTILISATION)))

    def describe(self) -> str:
        """The measurement, for the decision's reason."""
        rate = "unknown" if self.input_rate is None else f"{self.input_rate:.1f}"
        each = "unknown" if self.per_processor is None else f"{self.per_processor:.1f}"
        return f"input {rate} msg/s, one processor drains {each} msg/s"
