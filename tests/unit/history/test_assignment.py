"""The writer's assignment check: a leaderless new partition neither drops PostgreSQL nor leaves the writer unready."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from gridwatch.common.shutdown import StopFlag
from gridwatch.history import partitions, runner
from gridwatch.history.runner import HistoryWriter
from gridwatch.history.settings import HistorySettings


class FakeStore:
    """Records which log ends the ledger was checked against."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, int, int]] = []

    def forget_ahead(self, topic: str, partition: int, high: int) -> bool:
        self.checked.append((topic, partition, high))
        return False


class FakeConsumer:
    """Answers the watermark query with a Kafka error `failures` times, then with (0, 42)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float, cached: bool) -> tuple[int, int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaException(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION))
        return (0, 42)


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> HistoryWriter:
    monkeypatch.setenv("GRIDWATCH_SITE", "unit")
    monkeypatch.setenv("GRIDWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("GRIDWATCH_POSTGRES_DSN", "postgresql://127.0.0.1:1/unit")
    monkeypatch.setattr(StopFlag, "wait", lambda self, seconds: False)  # no real backoff in unit tests
    w = HistoryWriter(HistorySettings(), StopFlag())
    w.store = FakeStore()  # type: ignore[assignment]
    w.healthy_db = True
    return w


def test_a_leaderless_partition_is_asked_again_and_the_ledger_checked(writer: HistoryWriter) -> None:
    consumer = FakeConsumer(failures=2)
    writer._on_assign(consumer, [TopicPartition("unit.enriched", 0)])  # type: ignore[arg-type]
    assert consumer.calls == 3
    assert writer.store.checked == [("unit.enriched", 0, 42)]  # type: ignore[union-attr]
    assert writer._ready()


def test_a_kafka_error_that_persists_keeps_postgres_and_readiness(writer: HistoryWriter) -> None:
    """The failure seen in CI: the writer dropped a healthy database and stayed unready until its first write."""
    consumer = FakeConsumer(failures=runner.WATERMARK_ATTEMPTS)
    writer._on_assign(consumer, [TopicPartition("unit.enriched", 0)])  # type: ignore[arg-type]
    assert consumer.calls == runner.WATERMARK_ATTEMPTS
    assert writer.store is not None and writer.store.checked == []  # type: ignore[attr-defined]
    assert writer._ready()


def test_a_dropped_database_is_reconnected_by_the_tick_without_a_write(
    writer: HistoryWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.store = None
    writer.healthy_db = False
    writer.next_maintenance = float("inf")
    attempts: list[int] = []

    def connect(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise psycopg.OperationalError("connection refused")
        return object()

    monkeypatch.setattr(runner, "connect", connect)
    monkeypatch.setattr(runner, "ensure_schema", lambda conn: [])
    monkeypatch.setattr(partitions, "storage_kind", lambda conn: "plain")
    monkeypatch.setattr(runner, "HistoryStore", lambda conn, site: FakeStore())
    writer._tick()  # refused: logged, retried later
    assert not writer._ready()
    writer._tick()  # too soon: no new attempt
    assert len(attempts) == 1
    writer.next_reconnect = 0.0
    writer._tick()
    assert len(attempts) == 2
    assert writer._ready()
