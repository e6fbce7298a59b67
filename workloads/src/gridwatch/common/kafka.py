"""Kafka helpers: topic creation, producer and consumer configuration, dead-letter publishing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewPartitions,
    NewTopic,
)

from gridwatch.common import schema
from gridwatch.common.settings import CommonSettings

TOPIC_KINDS = ("readings", "enriched", "alerts", "forecasts", "dispatch", "dlq")
log = structlog.get_logger(__name__)
# librdkafka's own log lines go through stdlib logging, so they come out as JSON like everything else
RDKAFKA_LOGGER = logging.getLogger("rdkafka")


def ensure_site_topics(settings: CommonSettings) -> dict[str, str]:
    """Create (or raise the partitions of) every topic of the site, as the settings ask."""
    return ensure_topics(
        settings.kafka_bootstrap,
        [settings.topic(kind) for kind in TOPIC_KINDS],
        settings.partitions,
        settings.replication_factor,
    )


def decoded(
    messages: Iterable[Message], dead_letter: Callable[[Message, str], None]
) -> Iterator[tuple[Message, schema.Message]]:
    """The decodable messages of a consumed batch; consume errors are logged and skipped (partition EOF silently),
    and undecodable messages are handed to `dead_letter` with the reason."""
    for msg in messages:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", error=str(err))
            continue
        try:
            yield msg, schema.decode(msg.value() or b"")
        except schema.InvalidMessage as exc:
            dead_letter(msg, f"invalid message: {exc}")


def producer_config(bootstrap: str, client_id: str, **extra: Any) -> dict[str, Any]:
    """Idempotent, acks=all producer tuned for batched throughput."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "batch.size": 1_000_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        "message.max.bytes": 4_000_000,
        "logger": RDKAFKA_LOGGER,
    }
    config.update(extra)
    return config


def consumer_config(bootstrap: str, group: str, client_id: str, **extra: Any) -> dict[str, Any]:
    """At-least-once consumer: manual commits, cooperative-sticky assignment."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.max.bytes": 16_000_000,
        "max.partition.fetch.bytes": 4_000_000,
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
        "logger": RDKAFKA_LOGGER,
    }
    config.update(extra)
    return config


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> dict[str, str]:
    """Create missing topics and raise partition counts (never lower them).

    Returns a map topic -> what happened ("created", "exists", "raised from N", "kept N > asked").
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": RDKAFKA_LOGGER})  # type: ignore[dict-item]
    deadline = time.monotonic() + timeout
    wanted = list(names)
    while True:
        try:
            metadata = admin.list_topics(timeout=5)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    outcome: dict[str, str] = {}
    missing = [n for n in wanted if n not in metadata.topics or metadata.topics[n].error is not None]
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in missing]
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                outcome[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                outcome[name] = "exists"
    raise_to: list[NewPartitions] = []
    for name in wanted:
        if name in outcome or name not in metadata.topics:
            continue
        current = len(metadata.topics[name].partitions)
        if current < partitions:
            raise_to.append(NewPartitions(name, partitions))
            outcome[name] = f"raised from {current}"
        elif current > partitions:
            outcome[name] = f"kept {current} > {partitions} (partitions are never lowered)"
        else:
            outcome[name] = "exists"
    if raise_to:
        for future in admin.create_partitions(raise_to).values():
            future.result(timeout=timeout)
    return outcome


class DeliveryTracker:
    """Counts delivery failures reported by the producer's delivery callbacks."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.last_error: str | None = None

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.last_error = str(err)
            log.warning("delivery failed", topic=msg.topic(), error=str(err))


def produce(producer: Producer, topic: str, value: bytes, key: bytes | None = None, **kwargs: Any) -> None:
    """Produce, serving callbacks and waiting for room when the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, **kwargs)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)


def dead_letter(producer: Producer, dlq_topic: str, msg: Message, reason: str, value: bytes | None = None) -> None:
    """Send a message that could not be processed to the DLQ, with the reason and its origin.

    `value` replaces the payload when only part of the message is dead-lettered (e.g. its implausible readings).
    """
    headers = [
        ("gridwatch.dlq.reason", reason.encode()[:4000]),
        ("gridwatch.dlq.topic", (msg.topic() or "").encode()),
        ("gridwatch.dlq.partition", str(msg.partition()).encode()),
        ("gridwatch.dlq.offset", str(msg.offset()).encode()),
        ("gridwatch.dlq.timestamp", str(msg.timestamp()[1]).encode()),
    ]
    payload = (msg.value() or b"") if value is None else value
    produce(producer, dlq_topic, payload, msg.key(), headers=headers)
