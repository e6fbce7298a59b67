"""The idle check sees a backlog on a partition the client never fetched, and restarts its fetcher with a seek."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import OFFSET_INVALID, TopicPartition
from gridwatch.common import consumer as consumer_module
from gridwatch.common.consumer import ConsumerLoop, ConsumerSpec
from gridwatch.common.shutdown import StopFlag


class Log:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.warnings.append((event, kw))

    def info(self, event: str, **kw: Any) -> None:
        pass

    def error(self, event: str, **kw: Any) -> None:
        pass


class UnfetchedClient:
    """What librdkafka reports for an assigned partition whose fetcher never started: no position, unknown cached
    watermarks, committed offset 10 with 100 messages on the broker."""

    def __init__(self) -> None:
        self.sought: list[tuple[int, int]] = []

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", 0)]

    def committed(self, parts: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition("t", p.partition, 10) for p in parts]

    def position(self, parts: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition("t", p.partition, OFFSET_INVALID) for p in parts]

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float = 0, cached: bool = False) -> tuple[int, int]:
        return (OFFSET_INVALID, OFFSET_INVALID) if cached else (0, 100)

    def seek(self, tp: TopicPartition) -> None:
        self.sought.append((tp.partition, tp.offset))


def test_a_backlog_the_client_never_fetched_is_not_progress_and_its_partition_is_restarted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = Log()
    loop = ConsumerLoop(ConsumerSpec("127.0.0.1:1", "t", "g", "c", "t.dlq"), lambda records: None, StopFlag(), log)
    client = UnfetchedClient()
    loop.consumer = client  # type: ignore[assignment]
    loop.group_state = ("up", "steady")
    clock = [1000.0]
    monkeypatch.setattr("gridwatch.common.consumer.time.monotonic", lambda: clock[0])
    loop._stats_at = clock[0]
    assert not loop.confirm()  # the cached watermarks are unknown: the broker's say 90 messages wait
    loop._restart_stalled()
    assert client.sought == []  # not yet: a fetcher may just be starting
    clock[0] += consumer_module.STALL_S + 1
    loop._stats_at = clock[0]
    loop._idle_check()
    assert client.sought == [(0, 10)]  # sought to the committed offset, which starts the fetcher
    assert log.warnings and log.warnings[0][1]["offset"] == 10 and log.warnings[0][1]["high"] == 100
