"""The site's Kafka topics (created, partitions raised but never lowered) and the processor group's lag."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewPartitions,
    NewTopic,
)

from gridwatch_operator.readings import ReadingsLag, Window, estimate, readings_in

TOPIC_KINDS = ("readings", "enriched", "alerts", "forecasts", "dispatch", "dlq")


Record = tuple[int, float | None, bytes | None]
"""One message read back: (offset, timestamp in epoch seconds or None, value)."""


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


@dataclass(frozen=True)
class GroupLag:
    """A consumer group's lag windows on a topic's partitions, by partition."""

    windows: dict[int, Window]

    @property
    def messages(self) -> int:
        """Lag in messages, summed over partitions."""
        return sum(w.messages for w in self.windows.values())

    @property
    def partitions(self) -> int:
        """Partitions of the topic."""
        return len(self.windows)


def _why(exc: BaseException) -> str:
    """KafkaError's own text when there is one."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    return str(exc) or type(exc).__name__


def topic_names(prefix: str) -> list[str]:
    """`<prefix>.readings`, `<prefix>.enriched`, ..."""
    return [f"{prefix}.{kind}" for kind in TOPIC_KINDS]


class KafkaTarget(str):
    """A bootstrap string that also carries the librdkafka security properties (TLS, SASL) to reach it with
    (gridwatch_operator.kafkaauth); a plain str means PLAINTEXT. Still the bootstrap string in messages."""

    security: Mapping[str, str]

    def __new__(cls, bootstrap: str, security: Mapping[str, str] | None = None) -> KafkaTarget:
        obj = super().__new__(cls, bootstrap)
        obj.security = dict(security or {})
        return obj


def _security(bootstrap: str) -> dict[str, str]:
    return dict(getattr(bootstrap, "security", {}))


class Kafka:
    """AdminClient per bootstrap string and credentials, shared by every site that uses that cluster so."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._clients: dict[tuple[str, tuple[tuple[str, str], ...]], AdminClient] = {}
        self._lock = threading.Lock()

    def admin(self, bootstrap: str) -> AdminClient:
        """A cached AdminClient for this cluster and these credentials."""
        security = _security(bootstrap)
        key = (str(bootstrap), tuple(sorted(security.items())))
        with self._lock:
            if key not in self._clients:
                self._clients[key] = AdminClient(
                    {
                        "bootstrap.servers": str(bootstrap),
                        "client.id": "gridwatch-operator",
                        "socket.timeout.ms": int(self.timeout * 1000),
                        **security,
                    }
                )
            return self._clients[key]

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

    def _consumer(self, bootstrap: str, group: str, client_id: str) -> Consumer:
        """A consumer that never subscribes nor commits (assign or offset lookups only)."""
        return Consumer(
            {
                "bootstrap.servers": str(bootstrap),
                "group.id": group,
                "client.id": client_id,
                "enable.auto.commit": False,
                "socket.timeout.ms": int(self.timeout * 1000),
                **_security(bootstrap),
            }
        )

    def read(self, bootstrap: str, topic: str, ranges: Mapping[int, tuple[int, int]]) -> dict[int, list[Record]]:
        """The messages of offsets [start, end) of each partition, as (offset, timestamp or None, value).

        Assigned, never subscribed, with no group: reading commits nothing and joins no group. Stops at
        the timeout with what it has (a partition's list may then be short).
        """
        out: dict[int, list[Record]] = {p: [] for p in ranges}
        wanted = {p: end for p, (start, end) in ranges.items() if end > start}
        if not wanted:
            return out
        consumer = self._consumer(bootstrap, "gridwatch-operator-tail", "gridwatch-operator-tail")
        try:
            consumer.assign([TopicPartition(topic, p, ranges[p][0]) for p in wanted])
            deadline = time.monotonic() + self.timeout
            while wanted and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=500, timeout=0.5):
                    partition, offset = msg.partition(), msg.offset()
                    if msg.error() is not None or partition not in wanted or offset is None:
                        continue
                    if offset < wanted[partition]:
                        kind, ms = msg.timestamp()
                        stamp = ms / 1000.0 if kind != TIMESTAMP_NOT_AVAILABLE and ms > 0 else None
                        out[partition].append((offset, stamp, msg.value()))
                    if offset + 1 >= wanted[partition]:
                        del wanted[partition]
        except KafkaException as exc:
            raise TopicsError(f"reading {topic}: {_why(exc)}") from exc
        finally:
            consumer.close()
        return out

    def tail(self, bootstrap: str, topic: str, per_partition: int) -> tuple[float | None, list[bytes]]:
        """(newest message time in epoch seconds or None, the last `per_partition` values of every partition)."""
        count = self.partitions(bootstrap, topic)
        if count == 0:
            return None, []
        ranges: dict[int, tuple[int, int]] = {}
        for p, (start, end) in self.watermarks(bootstrap, topic, count).items():
            if end > start:
                ranges[p] = (max(start, end - per_partition), end)
        newest: float | None = None
        values: list[bytes] = []
        for records in self.read(bootstrap, topic, ranges).values():
            for _, stamp, value in records:
                if stamp is not None:
                    newest = max(newest or 0.0, stamp)
                if value:
                    values.append(value)
        return newest, values

    def watermarks(self, bootstrap: str, topic: str, count: int) -> dict[int, tuple[int, int]]:
        """(log start, log end) of each of the topic's `count` partitions."""
        consumer = self._consumer(bootstrap, "gridwatch-operator-tail", "gridwatch-operator-tail")
        try:
            marks: dict[int, tuple[int, int]] = {}
            for p in range(count):
                start, end = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=self.timeout)
                marks[p] = (int(start), int(end))
        except KafkaException as exc:
            raise TopicsError(f"offsets of {topic}: {_why(exc)}") from exc
        finally:
            consumer.close()
        return marks

    def lag(self, bootstrap: str, group: str, topic: str) -> GroupLag:
        """The group's lag window on every partition: from its committed offset to the log end.

        A partition the group never committed counts from the log start, like the processor's
        `auto.offset.reset=earliest`. Read through a Consumer that never subscribes (so it does
        not join the group): AdminClient.list_consumer_group_offsets crashes librdkafka for
        groups the coordinator has not seen yet (confluent-kafka-python#1982).
        """
        count = self.partitions(bootstrap, topic)
        if count == 0:
            return GroupLag({})
        consumer = self._consumer(bootstrap, group, "gridwatch-operator-lag")
        try:
            tps = [TopicPartition(topic, p) for p in range(count)]
            committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=self.timeout)}
            windows: dict[int, Window] = {}
            for tp in tps:
                start, end = consumer.get_watermark_offsets(tp, timeout=self.timeout)
                done = committed.get(tp.partition, -1)
                first = max(done, start) if done >= 0 else start
                windows[tp.partition] = Window(int(first), int(max(first, end)))
        except KafkaException as exc:
            raise TopicsError(f"lag of group {group} on {topic}: {_why(exc)}") from exc
        finally:
            consumer.close()
        return GroupLag(windows)

    def readings_lag(self, bootstrap: str, topic: str, group_lag: GroupLag, sample: int) -> ReadingsLag | None:
        """Readings in the lag windows: every lagging message counted when a window fits in `sample`
        messages, else the newest `sample` of it extrapolated (readings.estimate)."""
        ranges = {p: (w.sample_start(sample), w.end) for p, w in group_lag.windows.items() if w.messages}
        read = self.read(bootstrap, topic, ranges)
        counts = {p: [readings_in(value) for _, _, value in records] for p, records in read.items()}
        return estimate(group_lag.windows, counts)
