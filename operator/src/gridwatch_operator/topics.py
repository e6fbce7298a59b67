"""The site's Kafka topics (created, partitions raised but never lowered) and the processor group's lag."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewPartitions,
    NewTopic,
)

TOPIC_KINDS = ("readings", "enriched", "alerts", "forecasts", "dispatch", "dlq")


class TopicsError(RuntimeError):
    """Kafka could not be reached or refused a topic operation."""


@dataclass(frozen=True)
class TopicsOutcome:
    """Per topic: created, exists, raised from N, or kept N > asked."""

    topics: dict[str, str]
    partitions: int

    @property
    def message(self) -> str:
        """One line for status and events."""
        kept = [f"{t}: {v}" for t, v in self.topics.items() if v.startswith("kept")]
        raised = [f"{t}: {v}" for t, v in self.topics.items() if v.startswith("raised")]
        created = [t for t, v in self.topics.items() if v == "created"]
        parts = []
        if created:
            parts.append(f"created {len(created)} topic(s) with {self.partitions} partitions")
        if raised:
            parts.append("raised partitions of " + "; ".join(raised))
        if kept:
            parts.append("partitions are never lowered: " + "; ".join(kept))
        return ", ".join(parts) or f"{len(self.topics)} topics up to date with {self.partitions} partitions"


def _why(exc: BaseException) -> str:
    """KafkaError's own text when there is one."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    return str(exc) or type(exc).__name__


def topic_names(prefix: str) -> list[str]:
    """`<prefix>.readings`, `<prefix>.enriched`, ..."""
    return [f"{prefix}.{kind}" for kind in TOPIC_KINDS]


class Kafka:
    """AdminClient per bootstrap string, shared by every site that uses that cluster."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._clients: dict[str, AdminClient] = {}
        self._lock = threading.Lock()

    def admin(self, bootstrap: str) -> AdminClient:
        """A cached AdminClient for this cluster."""
        with self._lock:
            if bootstrap not in self._clients:
                self._clients[bootstrap] = AdminClient(
                    {
                        "bootstrap.servers": bootstrap,
                        "client.id": "gridwatch-operator",
                        "socket.timeout.ms": int(self.timeout * 1000),
                    }
                )
            return self._clients[bootstrap]

    def ensure_topics(
        self, bootstrap: str, names: Iterable[str], partitions: int, replication_factor: int
    ) -> TopicsOutcome:
        """Create missing topics, raise partitions below `partitions`, report topics with more."""
        admin = self.admin(bootstrap)
        wanted = list(names)
        try:
            metadata = admin.list_topics(timeout=self.timeout)
            outcome: dict[str, str] = {}
            missing = [n for n in wanted if n not in metadata.topics or metadata.topics[n].error is not None]
            if missing:
                futures = admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in missing],
                    request_timeout=self.timeout,
                )
                for name, future in futures.items():
                    try:
                        future.result(timeout=self.timeout)
                        outcome[name] = "created"
                    except KafkaException as exc:
                        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                            raise
                        outcome[name] = "exists"
            raise_to: list[NewPartitions] = []
            for name in wanted:
                if name in outcome:
                    continue
                current = len(metadata.topics[name].partitions)
                if current < partitions:
                    raise_to.append(NewPartitions(name, partitions))
                    outcome[name] = f"raised from {current} to {partitions}"
                elif current > partitions:
                    outcome[name] = f"kept {current} > {partitions} asked"
                else:
                    outcome[name] = "exists"
            if raise_to:
                for future in admin.create_partitions(raise_to, request_timeout=self.timeout).values():
                    future.result(timeout=self.timeout)
        except (KafkaException, TimeoutError) as exc:
            raise TopicsError(f"Kafka at {bootstrap}: {_why(exc)}") from exc
        return TopicsOutcome(outcome, partitions)

    def partitions(self, bootstrap: str, topic: str) -> int:
        """Partition count of a topic (0 when it does not exist)."""
        try:
            metadata = self.admin(bootstrap).list_topics(topic=topic, timeout=self.timeout)
        except KafkaException as exc:
            raise TopicsError(f"Kafka at {bootstrap}: {_why(exc)}") from exc
        meta = metadata.topics.get(topic)
        return 0 if meta is None or meta.error is not None else len(meta.partitions)

    def tail(self, bootstrap: str, topic: str, per_partition: int) -> tuple[float | None, list[bytes]]:
        """(newest message time in epoch seconds or None, the last `per_partition` values of every partition).

        Assigned, never subscribed, with no group: reading the tail commits nothing and joins no group.
        """
        count = self.partitions(bootstrap, topic)
        if count == 0:
            return None, []
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "gridwatch-operator-tail",
                "client.id": "gridwatch-operator-tail",
                "enable.auto.commit": False,
                "socket.timeout.ms": int(self.timeout * 1000),
            }
        )
        newest: float | None = None
        values: list[bytes] = []
        try:
            wanted: dict[int, int] = {}
            assign: list[TopicPartition] = []
            for p in range(count):
                start, end = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=self.timeout)
                if end > start:
                    first = max(start, end - per_partition)
                    wanted[p] = end
                    assign.append(TopicPartition(topic, p, first))
            if not assign:
                return None, []
            consumer.assign(assign)
            deadline = time.monotonic() + self.timeout
            while wanted and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=500, timeout=0.5):
                    if msg.error() is not None:
                        continue
                    kind, ms = msg.timestamp()
                    if kind != TIMESTAMP_NOT_AVAILABLE and ms > 0:
                        newest = max(newest or 0.0, ms / 1000.0)
                    value = msg.value()
                    if value:
                        values.append(value)
                    partition, offset = msg.partition(), msg.offset()
                    if partition in wanted and offset is not None and offset + 1 >= wanted[partition]:
                        del wanted[partition]
        except KafkaException as exc:
            raise TopicsError(f"tail of {topic}: {_why(exc)}") from exc
        finally:
            consumer.close()
        return newest, values

    def lag(self, bootstrap: str, group: str, topic: str) -> tuple[int, int]:
        """(lag, partitions): Σ over partitions of log end offset minus the group's committed offset.

        A partition the group never committed counts from the log start, like the processor's
        `auto.offset.reset=earliest`. Read through a Consumer that never subscribes (so it does
        not join the group): AdminClient.list_consumer_group_offsets crashes librdkafka for
        groups the coordinator has not seen yet (confluent-kafka-python#1982).
        """
        count = self.partitions(bootstrap, topic)
        if count == 0:
            return 0, 0
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "client.id": "gridwatch-operator-lag",
                "enable.auto.commit": False,
                "socket.timeout.ms": int(self.timeout * 1000),
            }
        )
        try:
            tps = [TopicPartition(topic, p) for p in range(count)]
            committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=self.timeout)}
            total = 0
            for tp in tps:
                start, end = consumer.get_watermark_offsets(tp, timeout=self.timeout)
                done = committed.get(tp.partition, -1)
                total += max(0, end - (done if done >= 0 else start))
        except KafkaException as exc:
            raise TopicsError(f"lag of group {group} on {topic}: {_why(exc)}") from exc
        finally:
            consumer.close()
        return total, count
