"""The history writer's loop: consume enriched batches, upsert rollups with their offsets, then commit."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import Protocol

import psycopg
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from gridwatch.common import kafka, tracing
from gridwatch.common.consumer import ConsumerLoop, ConsumerSpec, Record, retry
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.lag import LagTracker
from gridwatch.common.logging import configure_logging
from gridwatch.common.metrics import announce
from gridwatch.common.probes import ProbeServer
from gridwatch.common.schema import EnrichedBatch
from gridwatch.common.shutdown import StopFlag
from gridwatch.history import metrics, partitions
from gridwatch.history.settings import HistorySettings
from gridwatch.history.store import HistoryStore, WriteResult
from gridwatch.history.store import Record as HistoryRecord

WATERMARK_ATTEMPTS = 5  # a just-created partition has no leader for a moment
RECONNECT_INTERVAL_S = 5.0  # how often a dropped PostgreSQL connection is retried between writes


class HistoryWriter:
    """Consumes `<prefix>.enriched` at least once; the offset ledger in PostgreSQL makes the writes exactly once."""

    def __init__(self, settings: HistorySettings, stop: StopFlag) -> None:
        if not settings.postgres_conninfo:
            raise SystemExit("gridwatch history needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_POSTGRES_HOST)")
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="history")
        self.labels = announce(settings.site, "history")
        self.topic = settings.topic("enriched")
        self.lag = LagTracker(self.topic, metrics.LAG, self.labels)
        self.loop = ConsumerLoop(
            ConsumerSpec(
                settings.kafka_bootstrap,
                self.topic,
                settings.consumer_group,
                f"history@{socket.gethostname()}",
                settings.topic("dlq"),
                max_lost_s=settings.consumer_max_lost_s,
            ),
            self.handle,
            stop,
            self.log,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_stats=self._on_stats,
            on_tick=self._tick,
            on_dead_letter=lambda reason: metrics.DLQ.labels(**self.labels).inc(),
            ready=self._ready,
        )
        self.consumer = self.loop.consumer
        self.gatherer = Gatherer(
            self.consumer.consume,
            settings.batch_max_messages,
            settings.poll_timeout_s,
            settings.flush_interval_s,
            settings.batch_max_bytes,
            stop,
        )
        self.loop.fetch = self.gatherer.next
        self.store: HistoryStore | None = None
        self.kind = ""
        self.days: set[int] = set()
        self.healthy_db = False
        self.next_maintenance = 0.0
        self.next_reconnect = 0.0

    # --- PostgreSQL --------------------------------------------------------------------------
    def _db(self) -> HistoryStore:
        if self.store is None:
            conn = connect(self.settings.postgres_conninfo, "history")
            applied = ensure_schema(conn)
            if applied:
                self.log.info("migrations applied", migrations=applied)
            self.kind = partitions.storage_kind(conn)
            self.days = partitions.existing_days(conn) if self.kind == "partitioned" else set()
            self.store = HistoryStore(conn, self.settings.site)
            self.healthy_db = True  # reached and migrated: ready until a write fails
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
        try:
            store = self._db()
            for tp in assigned:
                high = self._log_end(consumer, tp)
                if high is not None and store.forget_ahead(tp.topic, tp.partition, high):
                    self.log.warning(
                        "offset ledger was past the log end (topic recreated?); reset", partition=tp.partition
                    )
        except psycopg.Error as exc:
            self.log.warning("could not check the offset ledger on assignment", error=str(exc))
            self._drop_db()  # reconnected by the next tick, so readiness does not wait for a write

    def _log_end(self, consumer: Consumer, tp: TopicPartition) -> int | None:
        """The partition's log end; a just-created topic may briefly have no leader, so ask a few times."""
        for attempt in range(WATERMARK_ATTEMPTS):
            try:
                return int(consumer.get_watermark_offsets(tp, timeout=5, cached=False)[1])
            except KafkaException as exc:
                if attempt + 1 == WATERMARK_ATTEMPTS or not self.stop.running:
                    self.log.warning(
                        "could not read the log end on assignment; ledger not checked",
                        partition=tp.partition,
                        error=str(exc),
                    )
                    return None
                self.stop.wait(0.5 * (attempt + 1))
        return None

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        self.lag.clear()

    def _on_stats(self, stats_json: str) -> None:
        self.lag.on_stats(stats_json)

    # --- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped; on exit close the consumer (uncommitted batches are replayed, then skipped)."""
        s = self.settings
        outcome = kafka.ensure_site_topics(s)
        self.log.info("topics ready", topics=outcome, group=s.consumer_group)
        try:
            self.loop.run()
        finally:
            self._drop_db()
            self.log.info("history writer stopped")

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self.next_maintenance:
            self.maintain()
        elif self.store is None and now >= self.next_reconnect:
            self.next_reconnect = now + RECONNECT_INTERVAL_S
            try:
                self._db()
            except psycopg.Error as exc:
                self.log.warning("postgres unreachable; retrying", error=str(exc))

    def handle(self, records: list[Record]) -> None:
        """Write one consumed batch in one transaction (the loop then verifies dead letters and commits)."""
        started = time.perf_counter()
        rows: list[HistoryRecord] = []
        for r in records:
            decoded = r.value
            if not isinstance(decoded, EnrichedBatch):
                self.loop.dead_letter(r.msg, f"unexpected message type '{type(decoded).__name__}' on enriched")
            elif decoded.site != self.settings.site:
                self.loop.dead_letter(r.msg, f"enriched batch for site '{decoded.site}' on this site's topic")
            else:
                rows.append(HistoryRecord(r.partition, r.offset, decoded))
        if rows:
            self._write(rows)
        metrics.BATCH.labels(**self.labels).observe(time.perf_counter() - started, tracing.exemplar())

    def _write(self, records: list[HistoryRecord]) -> None:
        """Write with retries and backoff while PostgreSQL is down; nothing is committed to Kafka meanwhile."""
        min_ts = time.time() - self.settings.retention_days * 86400.0
        days: set[int] = set()
        for r in records:
            if r.batch.ts:
                lo = partitions.day_of(max(min(r.batch.ts), min_ts))
                days.update(range(lo, partitions.day_of(max(r.batch.ts)) + 1))

        def attempt() -> WriteResult:
            store = self._db()
            self._ensure_days(store, days)
            return store.write(self.topic, records, min_ts, dedupe=True)

        def failed(exc: BaseException) -> None:
            metrics.DB_ERRORS.labels(**self.labels).inc()
            self.healthy_db = False
            self._drop_db()

        result = retry(
            "postgres write", attempt, (psycopg.Error,), self.stop, self.log, beat=self.loop.touch, on_error=failed
        )
        self.healthy_db = True
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

    def _ready(self) -> bool:
        """PostgreSQL took the last write (or was just reached); the loop adds: the group is confirmed."""
        return self.store is not None and self.healthy_db


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
        self,
        consume: Consume,
        most: int,
        poll_s: float,
        window_s: float,
        max_bytes: int,
        stop: StopFlag,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consume = consume
        self.clock = clock  # injectable, so the window is tested without sleeping
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
        deadline = self.clock() + self.window_s
        while len(messages) < self.most and self.stop.running and not (self.max_bytes and size >= self.max_bytes):
            left = deadline - self.clock()
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
    probes = ProbeServer(
        settings.metrics_host, settings.metrics_port, ready=writer.loop.ready, live=writer.loop.live
    ).start()
    try:
        writer.run()
    finally:
        probes.stop()
