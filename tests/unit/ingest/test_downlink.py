"""The downlink's batch step: error-only batches commit nothing and a refused commit never ends the downlink."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from gridwatch.ingest.downlink import Downlink
from gridwatch.ingest.settings import IngestSettings


class FakeMessage:
    """A consumed event: a Kafka error, or an empty value (a dead letter, which still counts as consumed)."""

    def __init__(self, error: KafkaError | None, offset: int = 0) -> None:
        self._error = error
        self._offset = offset

    def error(self) -> KafkaError | None:
        return self._error

    def value(self) -> bytes:
        return b"not msgpack"

    def topic(self) -> str:
        return "t.commands"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> None:
        return None

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)


class FakeConsumer:
    def __init__(self, commit_error: int | None = None) -> None:
        self.commits = 0
        self.seeks: list[Any] = []
        self.commit_error = commit_error

    def commit(self, asynchronous: bool = True) -> None:
        self.commits += 1
        if self.commit_error is not None:
            raise KafkaException(KafkaError(self.commit_error))

    def seek(self, partition: Any) -> None:
        self.seeks.append(partition)

    def close(self) -> None:
        pass


@pytest.fixture
def downlink(monkeypatch: pytest.MonkeyPatch) -> Downlink:
    monkeypatch.setenv("GRIDWATCH_SITE", "unit")
    monkeypatch.setenv("GRIDWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    settings = IngestSettings()
    producer = Producer({"bootstrap.servers": "127.0.0.1:1"})
    d = Downlink(settings, {"site": "unit", "component": "ingest"}, producer)
    d.forward = lambda messages: True  # type: ignore[method-assign]
    return d


def test_a_batch_of_only_error_events_commits_nothing(downlink: Downlink) -> None:
    consumer = FakeConsumer(commit_error=KafkaError._NO_OFFSET)
    downlink.consumer = consumer  # type: ignore[assignment]
    unknown = FakeMessage(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    downlink.step([unknown])  # type: ignore[list-item]
    assert consumer.commits == 0


@pytest.mark.parametrize("code", [KafkaError._NO_OFFSET, KafkaError.REBALANCE_IN_PROGRESS])
def test_a_refused_commit_is_not_fatal(downlink: Downlink, code: int) -> None:
    consumer = FakeConsumer(commit_error=code)
    downlink.consumer = consumer  # type: ignore[assignment]
    downlink.step([FakeMessage(None, offset=3)])  # type: ignore[list-item]
    assert consumer.commits == 1


def test_an_undelivered_batch_is_rewound_not_committed(downlink: Downlink) -> None:
    consumer = FakeConsumer()
    downlink.consumer = consumer  # type: ignore[assignment]
    downlink.forward = lambda messages: False  # type: ignore[method-assign]
    downlink.step([FakeMessage(None, offset=7), FakeMessage(None, offset=5)])  # type: ignore[list-item]
    assert consumer.commits == 0
    assert [(tp.partition, tp.offset) for tp in consumer.seeks] == [(0, 5)]
