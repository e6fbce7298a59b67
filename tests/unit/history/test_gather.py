"""The history writer collects a live stream for a window, within a message and byte budget, before writing."""

from __future__ import annotations

from typing import Any, cast

from confluent_kafka import Message
from gridwatch.common.shutdown import StopFlag
from gridwatch.history.runner import Gatherer


class Fake:
    """A consumed message: only its payload matters here."""

    def __init__(self, n: int, size: int) -> None:
        self.n = n
        self.payload = b"x" * size

    def value(self) -> bytes:
        return self.payload


class Scripted:
    """Stands in for Consumer.consume: hands out scripted polls of `size`-byte messages, each poll taking `delay`
    seconds of its fake clock (`now`), which the gatherer reads instead of the real one."""

    def __init__(self, polls: list[int], size: int = 100, delay: float = 0.0) -> None:
        self.polls = polls
        self.size = size
        self.delay = delay
        self.now = 0.0
        self.asked: list[tuple[int, float]] = []
        self.n = 0

    def __call__(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self.asked.append((num_messages, timeout))
        self.now += self.delay
        count = min(self.polls.pop(0), num_messages) if self.polls else 0
        out = [cast(Message, Fake(self.n + i, self.size)) for i in range(count)]
        self.n += count
        return out


def gatherer(consume: Scripted, most: int = 500, window_s: float = 5.0, max_bytes: int = 0) -> Gatherer:
    return Gatherer(consume, most, 0.5, window_s, max_bytes, StopFlag(), clock=lambda: consume.now)


def test_nothing_arriving_returns_after_one_poll() -> None:
    consume = Scripted([])
    assert gatherer(consume).next() == []
    assert consume.asked == [(500, 0.5)]


def test_a_trickle_is_collected_until_the_batch_is_full() -> None:
    consume = Scripted([3, 0, 4, 5, 9])
    got = gatherer(consume, most=10).next()
    assert [cast(Any, m).n for m in got] == list(range(10))
    assert [n for n, _ in consume.asked] == [10, 7, 7, 3]  # never asks for more than fits


def test_the_window_ends_collection_and_bounds_every_wait() -> None:
    consume = Scripted([1] * 100, delay=0.02)
    got = gatherer(consume, window_s=0.1).next()
    assert len(got) == 6  # the first poll, then five more within the 0.1 s window (100 polls would take 2 s)
    assert all(timeout <= 0.1 for _, timeout in consume.asked[1:])  # no wait past the window


def test_a_zero_window_writes_what_one_poll_returned() -> None:
    consume = Scripted([2, 2])
    assert len(gatherer(consume, window_s=0.0).next()) == 2


def test_stopping_ends_collection() -> None:
    stop = StopFlag()
    stop.stop()
    consume = Scripted([2, 2, 2])
    assert len(Gatherer(consume, 500, 0.5, 5.0, 0, stop).next()) == 2


def test_the_byte_budget_bounds_a_backlog_write() -> None:
    consume = Scripted([500] * 20, size=1000)  # a backlog: every poll could return 500 messages
    g = gatherer(consume, max_bytes=50_000)
    first = g.next()
    # before any size is known it asks for a few; then for what fits the budget by the size it has seen
    assert consume.asked[0][0] == Gatherer.FIRST_POLL
    assert len(first) == 50 and sum(len(cast(Any, m).value()) for m in first) == 50_000
    second = g.next()
    assert consume.asked[len(consume.asked) - 1][0] <= 50 and len(second) == 50  # one poll, sized by the estimate


def test_without_a_byte_budget_a_backlog_write_takes_the_whole_batch() -> None:
    consume = Scripted([500], size=1000)
    assert len(gatherer(consume).next()) == 500
