"""The history writer collects a live stream for a window before writing, so readings share rows."""

from __future__ import annotations

import time
from typing import Any, cast

from confluent_kafka import Message
from gridwatch.common.shutdown import StopFlag
from gridwatch.history.runner import gather


class Scripted:
    """Stands in for Consumer.consume: hands out scripted polls, each taking `delay` seconds."""

    def __init__(self, polls: list[int], delay: float = 0.0) -> None:
        self.polls = polls
        self.delay = delay
        self.asked: list[tuple[int, float]] = []
        self.n = 0

    def __call__(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self.asked.append((num_messages, timeout))
        time.sleep(self.delay)
        count = min(self.polls.pop(0), num_messages) if self.polls else 0
        out = [cast(Message, ("m", self.n + i)) for i in range(count)]
        self.n += count
        return out


def test_nothing_arriving_returns_after_one_poll() -> None:
    consume = Scripted([])
    assert gather(consume, 500, 0.5, 5.0, StopFlag()) == []
    assert consume.asked == [(500, 0.5)]


def test_a_trickle_is_collected_until_the_batch_is_full() -> None:
    consume = Scripted([3, 0, 4, 5, 9])
    got = gather(consume, 10, 0.5, 5.0, StopFlag())
    assert len(got) == 10 and [cast(Any, m)[1] for m in got] == list(range(10))
    assert [n for n, _ in consume.asked] == [10, 7, 7, 3]  # never asks for more than fits


def test_the_window_ends_collection_and_bounds_every_wait() -> None:
    consume = Scripted([1] * 100, delay=0.02)
    got = gather(consume, 500, 0.5, 0.1, StopFlag())
    assert 1 <= len(got) < 100  # stopped by the window (100 polls take 2 s), not by the script or the batch size
    assert all(timeout <= 0.1 for _, timeout in consume.asked[1:])  # no wait past the window


def test_a_zero_window_writes_what_one_poll_returned() -> None:
    consume = Scripted([2, 2])
    assert len(gather(consume, 500, 0.5, 0.0, StopFlag())) == 2


def test_stopping_ends_collection() -> None:
    stop = StopFlag()
    stop.stop()
    consume = Scripted([2, 2, 2])
    assert len(gather(consume, 500, 0.5, 5.0, stop)) == 2
