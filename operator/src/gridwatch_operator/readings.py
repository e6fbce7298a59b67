"""Consumer lag in readings: count the readings of the lagging messages, or estimate them from a sample (pure).

A readings-topic message is a gateway batch of up to several hundred readings, a heartbeat (no reading) or
garbage the processor dead-letters (no reading). Lag in messages therefore says little about the work waiting;
lag in readings does. Per partition the operator reads the newest `sample` messages of the lag window
[first unconsumed offset, log end): when the window is no longer than the sample every lagging message was read
and the count is exact; otherwise the window's readings are its message count times the mean readings per
message of the sample (the newest lagging messages, which reflect the current producer rate and batch size).
The total is summed over partitions, as KEDA's Kafka scaler sums lag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec


class _Batch(msgspec.Struct):
    """The two fields of a message the count needs (every other field is skipped undecoded)."""

    msg: str = ""
    values: list[float] = []


_decoder = msgspec.msgpack.Decoder(_Batch)


def readings_in(value: bytes | None) -> int:
    """Readings carried by one readings-topic message: a batch's values, 0 for heartbeats and garbage."""
    if not value:
        return 0
    try:
        batch = _decoder.decode(value)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 0
    return len(batch.values) if batch.msg == "readings" else 0


@dataclass(frozen=True)
class Window:
    """One partition's lag window: offsets [first, end) are not yet committed by the group."""

    first: int
    end: int

    @property
    def messages(self) -> int:
        """Messages in the window."""
        return max(0, self.end - self.first)

    def sample_start(self, sample: int) -> int:
        """First offset of the newest `sample` messages of the window."""
        return max(self.first, self.end - sample)


@dataclass(frozen=True)
class ReadingsLag:
    """Readings waiting for the processors, and how the number was obtained."""

    readings: int
    messages: int
    exact: bool
    sampled_messages: int

    @property
    def method(self) -> str:
        """exact (every lagging message counted) or sampled (messages x mean readings of a sample)."""
        return "exact" if self.exact else "sampled"

    @property
    def per_message(self) -> float | None:
        """Readings per lagging message (None without lag)."""
        return round(self.readings / self.messages, 1) if self.messages else None


def estimate(windows: Mapping[int, Window], samples: Mapping[int, Sequence[int]]) -> ReadingsLag | None:
    """Readings lag from each partition's window and the reading counts of its sampled (newest) messages.

    A partition whose sample is shorter than its window is extrapolated from its own sample, or from the mean of
    every sample when its own could not be read; None when lag exists but nothing at all could be sampled.
    """
    pooled = [n for counts in samples.values() for n in counts]
    total = 0
    exact = True
    messages = 0
    for partition, window in windows.items():
        n = window.messages
        messages += n
        if n == 0:
            continue
        counts = list(samples.get(partition, ()))[-n:]
        if len(counts) == n:
            total += sum(counts)
            continue
        exact = False
        basis = counts or pooled
        if not basis:
            return None
        total += round(n * sum(basis) / len(basis))
    return ReadingsLag(total, messages, exact, len(pooled))
