"""The history writer's loop: consume enriched batches, upsert rollups with their offsets, then commit."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Protocol

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from gridwatch.common import kafka, tracing
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.lag import LagTracker
from gridwatch.common.logging import configure_logging
from gridwatch.common.probes import ProbeServer
from gridwatch.common.schema import EnrichedBatch
from gridwatch.common.shutdown import StopFlag
from gridwatch.history import metrics, partitions
from gridwatch.history.settings import HistorySettings
from gridwatch.history.store import HistoryStore, Record


class HistoryWriter:
    """Consumes `<prefix>.enriched` at least once; the offset ledger in PostgreSQL makes the writes exactly once."""

    def __init__(self, settings: HistorySettings, stop: StopFlag) -> None:
        if not settings.postgres_conninfo:
            raise SystemExit("gridwatch history needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_POSTGRES_HOST)")
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="history")
        self.labels = {"site": settings.site, "component": "history"}
        client_id = f"history@{socket.gethostname()}"
        self.topic = settings.topic("enriched")
        self.lag = LagTracker(self.topic, metrics.LAG, self.labels)
        self.consumer = Consumer(
            kafka.consumer_config(
                settings.kafka_bootstrap,
                settings.consumer_group,
                client_id,
                **{"statistics.interval.ms": 5000},
                stats_cb=self._on_stats,
            )
        )
        self.gatherer = Gatherer(
            self.consumer.consume,
            settings.batch_max_messages,
            settings.poll_timeout_s,
            settings.flush_interval_s,
            settings.batch_max_bytes,
            stop,
        )
        self.producer = Producer(kafka.producer_config(settings.kafka_bootstrap, client_id))
        self.store: HistoryStore | None = None
        self.kind = ""
        self.days: set[int] = set()
        self.healthy_db = False
        self.assigned = False
        self.next_maintenance = 0.0

    # --- PostgreSQL --------------------------------------------------------------------------
    def _db(self) -> HistoryStore:
        if self.store is None:
            conn = connect(self.settings.postgres_conninfo, "history")
            applied = migrate(conn)
            if applied:
                self.log.info("migrations applied", migrations=applied)
            self.kind = partitions.storage_kind(conn)
            self.days = partitions.existing_days(conn) if self.kind == "partitioned" else set()
            self.store = HistoryStore(conn, self.settings.site)
            self.log.info("postgres ready", storage=self.kind)
        return self.store

    def _drop_db(self) -> None:
        if self.store is not None:
            with contextlib.suppress(psycopg.Error):
                self.store.conn.close()
        self.store = None

    def _ensure_days(self, store: HistoryStore, days: set[int]) -> None:
        if self.kind != "partitioned":
            return
        missing = days - self.days
        if missing:
            created = partitions.ensure_days(store.conn, missing)
            if created:
                metrics.PARTITIONS.labels(**self.labels).inc(len(created))
                self.log.info("partitions created", partitions=created)
            self.days |= missing

    # --- Kafka callbacks -------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, assigned: list[TopicPartition]) -> None:
        self.assigned = True
        self.log.info("partitions assigned", partitions=[p.partition for p in assigned])
        try:
            store = self._db()
            for tp in assigned:
                _, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                if store.forget_ahead(tp.topic, tp.partition, high):
                    self.log.warning(
                        "offset ledger was past the log end (topic recreated?); reset", partition=tp.partition
                    )
        except (psycopg.Error, KafkaException) as exc:
            self.log.warning("could not check the offset ledger on assignment", error=str(exc))
            self._drop_db()

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        self.lag.clear()
        self.log.info("partitions revoked", partitions=[p.partition for p in revoked])

    def _on_stats(self, stats_json: str) -> None:
        self.lag.on_stats(stats_json)

    # --- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped; on exit close the consumer (uncommitted batches are replayed, then skipped)."""
        s = self.settings
        outcome = kafka.ensure_site_topics(s)
        self.log.info("topics ready", topics=outcome, group=s.consumer_group)
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while self.stop.running:
                messages = self.gatherer.next()
                if messages:
                    with tracing.consume_span(self.topic, messages):
                        self.handle(messages)
                else:
                    self.producer.poll(0)
                if time.monotonic() >= self.next_maintenance:
                    self.maintain()
        finally:
            self.producer.flush(30)
            self.consumer.close()
            self._drop_db()
            self.log.info("history writer stopped")

    def handle(self, messages: list[Message]) -> None:
        """Write one consumed batch in one transaction, then commit its offsets to Kafka."""
        started = time.perf_counter()
        records: list[Record] = []
        for msg, decoded in kafka.decoded(messages, self._dead_letter):
            if not isinstance(decoded, EnrichedBatch):
                self._dead_letter(msg, f"unexpected message type '{type(decoded).__name__}' on enriched")
            elif decoded.site != self.settings.site:
                self._dead_letter(msg, f"enriched batch for site '{decoded.site}' on this site's topic")
            else:
                records.append(Record(int(msg.partition() or 0), int(msg.offset() or 0), decoded))
        if records:
            self._write(records)
        if self.producer.flush(30):
            raise RuntimeError("dead letters not delivered to Kafka; not committing")
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                self.log.warning("commit failed; the ledger skips the replay", error=str(exc))
        metrics.BATCH.labels(**self.labels).observe(time.perf_counter() - started)

    def _write(self, records: list[Record]) -> None:
        """Write with retries and backoff while PostgreSQL is down; nothing is committed to Kafka meanwhile."""
        min_ts = time.time() - self.settings.retention_days * 86400.0
        days: set[int] = set()
        for r in records:
            if r.batch.ts:
                lo = partitions.day_of(max(min(r.batch.ts), min_ts))
                days.update(range(lo, partitions.day_of(max(r.batch.ts)) + 1))
        delay = 0.2
        while True:
            try:
                store = self._db()
                self._ensure_days(store, days)
                result = store.write(self.topic, records, min_ts)
            except psycopg.Error as exc:
                metrics.DB_ERRORS.labels(**self.labels).inc()
                if self.healthy_db or self.store is None:
                    self.log.error("postgres write failed; retrying", error=str(exc))
                self.healthy_db = False
                self._drop_db()
                if self.stop.wait(delay):
                    raise
                delay = min(delay * 2, 5.0)
                continue
            if not self.healthy_db:
                self.log.info("postgres writes succeed")
            self.healthy_db = True
            break
        metrics.READINGS.labels(**self.labels).inc(result.readings)
        metrics.ROWS.labels(**self.labels).inc(result.rows)
        metrics.SKIPPED.labels(**self.labels).inc(result.skipped)
        metrics.DUPLICATES.labels(**self.labels).inc(result.duplicates)
        if result.skipped:
            self.log.info("skipped records already applied", skipped=result.skipped)

    def maintain(self) -> None:
        """Create partitions ahead and apply retention; failures are retried at the next interval."""
        s = self.settings
        self.next_maintenance = time.monotonic() + s.maintenance_interval_s
        try:
            store = self._db()
            today = partitions.day_of(time.time())
            self._ensure_days(store, set(range(today, today + s.partitions_ahead_days + 1)))
            dropped = partitions.drop_before(store.conn, self.kind, time.time() - s.retention_days * 86400.0)
        except psycopg.Error as exc:
            self.log.warning("history maintenance failed; retrying later", error=str(exc))
            self._drop_db()
            self.next_maintenance = time.monotonic() + min(60.0, s.maintenance_interval_s)
            return
        if dropped:
            self.days = partitions.existing_days(store.conn) if self.kind == "partitioned" else set()
            metrics.DROPPED.labels(**self.labels).inc(len(dropped))
            self.log.info("retention dropped old rollups", dropped=dropped, retention_days=s.retention_days)

    def _dead_letter(self, msg: Message, reason: str) -> None:
        kafka.dead_letter(self.producer, self.settings.topic("dlq"), msg, reason)
        metrics.DLQ.labels(**self.labels).inc()

    def ready(self) -> bool:
        """Ready once PostgreSQL took the last write (or was reached at start)."""
        return self.store is not None and (self.healthy_db or not self.assigned)


class Consume(Protocol):
    """Consumer.consume's shape."""

    def __call__(self, num_messages: int = ..., timeout: float = ...) -> list[Message]: ...


class Gatherer:
    """Collects the messages of one write: up to `most` messages and about `max_bytes` of payload (0: no byte
    limit), gathered for at most `window_s` after the first one arrives.

    A live stream arrives a few messages at a time with every sensor in each; writing them as they come
    would upsert one row per reading. Collecting for a window merges that many readings of a sensor into
    one row first, which keeps the database's work per reading low at scale. The byte budget bounds a
    write's memory when a backlog offers large messages (decoded, a reading takes several times its packed
    size): each poll asks for as many messages as fit, by a running estimate of a message's size.
    """

    FIRST_POLL = 10  # messages asked for before any size is known

    def __init__(
        self, consume: Consume, most: int, poll_s: float, window_s: float, max_bytes: int, stop: StopFlag
    ) -> None:
        self.consume = consume
        self.most = most
        self.poll_s = poll_s
        self.window_s = window_s
        self.max_bytes = max_bytes
        self.stop = stop
        self.message_bytes = 0.0

    def next(self) -> list[Message]:
        """The next write's messages; empty when nothing arrived within one poll."""
        messages = self.consume(num_messages=self._room(0, 0), timeout=self.poll_s)
        if not messages:
            return messages
        size = self._account(messages)
        deadline = time.monotonic() + self.window_s
        while len(messages) < self.most and self.stop.running and not (self.max_bytes and size >= self.max_bytes):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = self.consume(num_messages=self._room(len(messages), size), timeout=min(left, self.poll_s))
            size += self._account(more)
            messages.extend(more)
        return messages

    def _room(self, count: int, size: int) -> int:
        room = self.most - count
        if self.max_bytes:
            if self.message_bytes <= 0:
                return min(room, self.FIRST_POLL)
            room = min(room, max(1, int((self.max_bytes - size) / self.message_bytes)))
        return room

    def _account(self, messages: list[Message]) -> int:
        size = sum(len(m.value() or b"") for m in messages)
        if messages:
            mean = size / len(messages)
            self.message_bytes = mean if self.message_bytes <= 0 else 0.7 * self.message_bytes + 0.3 * mean
        return size


def main(settings: HistorySettings) -> None:
    """Entry point for `gridwatch history`."""
    stop = StopFlag().install()
    tracing.configure("gridwatch-history")
    writer = HistoryWriter(settings, stop)
    probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=writer.ready).start()
    try:
        writer.run()
    finally:
        probes.stop()
