"""Throughput from successive lag measurements: the topic's input rate and what one processor drains (messages/s).

Lag alone cannot tell a scale-down that is safe from one that will be undone: once N processors keep up, the lag
is near zero whatever N is, so a lag-only autoscaler drops to minReplicas, the lag climbs again and it scales back
up, once per cooldown under steady load. Lag measurements over a window of WINDOW_S give the input rate (growth of
the log end) and the drain rate (growth of the committed offsets); when a backlog lasted at every measurement of the
window, with the same processors all ready, every processor was busy throughout, so the drain rate per processor is
what one of them can do. The capacity is the best such window of the last CAPACITY_MEMORY_S (a window with a
rebalance in it drains less, and must not make the estimate fall). The scale-down then keeps enough processors for
the input rate at TARGET_UTILISATION of that capacity. The best window is also kept in the site's status
(status.scaling.capacity), so an operator that restarts holds the same scale-down floor instead of following the lag
alone until it has measured a busy window again.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 30.0  # rates are taken over at least this long (a processor commits in batches: shorter is jittery)
HISTORY_S = 300.0  # measurements kept; a gap longer than this (an operator that was away) starts over
BUSY_BACKLOG_MESSAGES = 20  # per processor: a backlog this deep at every measurement kept each one busy
CAPACITY_MEMORY_S = 1800.0  # busy windows older than this no longer count (limits or the load's shape changed)
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


@dataclass(frozen=True)
class Look:
    """A measurement with the processors that ran at that moment."""

    sample: Sample
    replicas: int
    ready: int | None


@dataclass
class Throughput:
    """A site's rates, updated by each autoscale measurement; the capacity survives a restart through `restore`."""

    looks: deque[Look] = field(default_factory=deque)
    input_rate: float | None = None  # messages/s appended to the readings topic over the last window
    busy: list[tuple[float, float]] = field(default_factory=list)  # (time, messages/s per processor) of busy windows

    @property
    def per_processor(self) -> float | None:
        """Messages/s one processor drained in the best busy window remembered; None: never measured."""
        return max((each for _, each in self.busy), default=None)

    def observe(self, sample: Sample, replicas: int, ready: int | None) -> None:
        """Take a measurement; `replicas` processors ran since the last one, `ready` of them ready (None: unknown)."""
        last = self.looks[-1].sample if self.looks else None
        restart = last is not None and (
            sample.produced < last.produced or sample.consumed < last.consumed or sample.at - last.at > HISTORY_S
        )
        if restart:  # the topic or group was recreated, or nobody looked for a long time
            self.looks.clear()
            self.input_rate = None
        if last is not None and not restart and sample.at <= last.at:
            return
        self.looks.append(Look(sample, replicas, ready))
        while self.looks and self.looks[0].sample.at < sample.at - HISTORY_S:
            self.looks.popleft()
        self.busy = [(t, v) for t, v in self.busy if t >= sample.at - CAPACITY_MEMORY_S]
        looks = list(self.looks)
        base = next((i for i in range(len(looks) - 1, -1, -1) if looks[i].sample.at <= sample.at - WINDOW_S), None)
        if base is None:
            return  # not yet a window's worth of measurements
        looks = looks[base:]
        first = looks[0].sample
        elapsed = sample.at - first.at
        self.input_rate = (sample.produced - first.produced) / elapsed
        drained = (sample.consumed - first.consumed) / elapsed
        deep = BUSY_BACKLOG_MESSAGES * max(replicas, 1)
        steady = all(w.replicas == replicas and (w.ready is None or w.ready >= replicas) for w in looks)
        if steady and replicas >= 1 and drained > 0 and all(w.sample.backlog >= deep for w in looks):
            self.busy.append((sample.at, drained / replicas))

    def best(self) -> tuple[float, float] | None:
        """(time, messages/s per processor) of the best busy window remembered; None: never measured."""
        return max(self.busy, key=lambda each: each[1], default=None)

    def restore(self, at: float, per_processor: float, now: float) -> bool:
        """Remember a busy window measured before a restart (from the status); False if too old or unusable."""
        if self.busy or not math.isfinite(per_processor) or per_processor <= 0 or not at <= now:
            return False
        if at < now - CAPACITY_MEMORY_S:
            return False
        self.busy.append((at, per_processor))
        return True

    def needed(self, current: int | None = None) -> int | None:
        """Processors the input rate needs at TARGET_UTILISATION of the measured capacity; None when unknown.

        With a capacity known (restored after a restart) but no input rate yet (one window, WINDOW_S), `current`:
        the scale-down waits for the measurement instead of following the lag alone in the meantime.
        """
        each = self.per_processor
        if self.input_rate is None and each:
            return current
        if self.input_rate is None or not each:
            return None
        return max(1, math.ceil(self.input_rate / (each * TARGET_UTILISATION)))

    def describe(self) -> str:
        """The measurement, for the decision's reason."""
        rate = "unknown" if self.input_rate is None else f"{self.input_rate:.1f}"
        each = self.per_processor
        return f"input {rate} msg/s, one processor drains {'unknown' if each is None else f'{each:.1f}'} msg/s"
