"""The one consumer loop every Kafka workload runs: consume, decode or dead-letter, handle, deliver, commit.

    loop = ConsumerLoop(ConsumerSpec(bootstrap, topic, group, client_id, dlq_topic), handle, stop, log)
    probes = ProbeServer(host, port, ready=loop.ready, live=loop.live)
    loop.run()

Each batch goes through the same steps (docs/reliability.md):

1. consume up to `batch_max_messages` (or what `fetch` gathers);
2. decode each message; undecodable ones go to the DLQ with the reason, the rest become `Record`s;
3. `handle(records)` does the workload's work; whatever it produces (outputs, dead letters) goes through
   `loop.producer` and may return a `finish` callable, run only once everything produced is acknowledged;
4. flush and *verify delivery*: every message produced for the batch must be acknowledged by the broker; a failed
   delivery rewinds the batch (seek back, `on_rewind`) and retries it, so nothing is committed past a lost output;
5. `finish()`, then commit the offsets synchronously.

Fault tests can SIGKILL the process at each of these step boundaries (`gridwatch.common.faults`).

Liveness and readiness: the loop records when it last confirmed that it is a stable member of its group and the
broker answers (a committed batch, or an idle check every `IDLE_CHECK_S` that finds the group steady, the
coordinator reachable and no backlog on its partitions). Ready while that is recent (`READY_WITHIN_S`) and the
workload says so; when it is older than `max_lost_s` the loop exits with `EXIT_LOST_GROUP` so that its supervisor
restarts it, rather than idling in `consume()` while the group is gone. A partition with a backlog that the client
has not started fetching (no position) for `STALL_S` is logged with its offsets and sought to its committed offset,
which starts its fetcher; the watermarks of a partition never fetched are asked from the broker, since the cached
ones are unknown and would hide the backlog.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from gridwatch.common import kafka, schema, tracing
from gridwatch.common.faults import crash_point
from gridwatch.common.shutdown import StopFlag

# Timeouts, chosen together (docs/reliability.md#timeouts):
SESSION_TIMEOUT_MS = 10_000  # a dead replica's partitions move after 10 s
HEARTBEAT_INTERVAL_MS = 1_000  # well under a third of the session
MAX_POLL_INTERVAL_MS = 300_000  # a batch may wait this long on a downstream outage before the group moves on
STATS_INTERVAL_MS = 1_000  # group state (and lag) seen within a second
IDLE_CHECK_S = 5.0  # how often an idle loop checks that it is still in its group and the broker answers
READY_WITHIN_S = 2 * IDLE_CHECK_S + 2.0  # ready while the last confirmation is this recent
CHECK_TIMEOUT_S = 2.0  # an idle check's broker round trip
STALL_S = 10.0  # an assigned partition with a backlog and no fetch position this long is restarted (seek)
DEFAULT_MAX_LOST_S = 60.0  # beyond this without confirmation the loop exits non-zero
EXIT_LOST_GROUP = 3
DLQ_HEADER_REASON = "gridwatch.dlq.reason"

T = TypeVar("T")


class DeliveryFailed(RuntimeError):
    """A message produced for the batch was not acknowledged: the batch is rewound and retried."""


@dataclass(frozen=True)
class Record:
    """One decoded Kafka message."""

    msg: Message
    value: schema.Message

    @property
    def partition(self) -> int:
        """Partition of the message."""
        return int(self.msg.partition() or 0)

    @property
    def offset(self) -> int:
        """Offset of the message."""
        return int(self.msg.offset() or 0)


@dataclass(frozen=True)
class ConsumerSpec:
    """What to consume and how."""

    bootstrap: str
    topic: str
    group: str
    client_id: str
    dlq_topic: str
    batch_max_messages: int = 500
    poll_timeout_s: float = 0.5
    max_lost_s: float = DEFAULT_MAX_LOST_S
    consumer_extra: dict[str, Any] = field(default_factory=dict)
    producer_extra: dict[str, Any] = field(default_factory=dict)


Finish = Callable[[], None]
Handle = Callable[[list[Record]], Finish | None]


class ConsumerLoop:
    """Runs one consumer group member of one topic until stopped (see the module docstring)."""

    def __init__(
        self,
        spec: ConsumerSpec,
        handle: Handle,
        stop: StopFlag,
        log: Any,
        *,
        on_assign: Callable[[Consumer, list[TopicPartition]], None] | None = None,
        on_revoke: Callable[[Consumer, list[TopicPartition]], None] | None = None,
        on_stats: Callable[[str], None] | None = None,
        on_rewind: Callable[[], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        on_dead_letter: Callable[[str], None] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.spec = spec
        self.handle = handle
        self.stop = stop
        self.log = log if log is not None else structlog.get_logger(__name__)
        self._on_assign_cb, self._on_revoke_cb, self._on_stats_cb = on_assign, on_revoke, on_stats
        self.on_rewind, self.on_tick, self.on_dead_letter, self._ready = on_rewind, on_tick, on_dead_letter, ready
        self.delivery = kafka.DeliveryTracker()
        self.consumer = Consumer(
            kafka.consumer_config(
                spec.bootstrap,
                spec.group,
                spec.client_id,
                **{
                    "session.timeout.ms": SESSION_TIMEOUT_MS,
                    "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
                    "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
                    "statistics.interval.ms": STATS_INTERVAL_MS,
                    **spec.consumer_extra,
                },
                stats_cb=self._on_stats,
                error_cb=self._on_error,
            )
        )
        self.producer = Producer(
            kafka.producer_config(spec.bootstrap, spec.client_id, on_delivery=self.delivery, **spec.producer_extra)
        )
        self.fetch: Callable[[], list[Message]] = self._consume
        self.assignment: set[int] = set()
        self.group_state = ("", "")
        self._stats_at = 0.0
        self._confirmed = time.monotonic()
        self._beat = time.monotonic()
        self._next_check = 0.0
        self._failures = 0
        self._batch_end = time.monotonic()
        self._running = False
        # partition -> (since when it has had a backlog and no fetch position, committed offset, high watermark),
        # as the latest complete idle check found it (cleared by any other outcome, so a revoked partition drops out)
        self._unfetched: dict[int, tuple[float, int, int]] = {}

    # --- callbacks ---------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment |= {p.partition for p in partitions}
        self.log.info("partitions assigned", partitions=[p.partition for p in partitions])
        if self._on_assign_cb is not None:
            self._on_assign_cb(consumer, partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment -= {p.partition for p in partitions}
        self.log.info("partitions revoked", partitions=[p.partition for p in partitions])
        if self._on_revoke_cb is not None:
            self._on_revoke_cb(consumer, partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.log.warning("partitions lost (session expired)", partitions=[p.partition for p in partitions])
        self._on_revoke(consumer, partitions)

    def _on_stats(self, stats_json: str) -> None:
        try:
            cgrp = json.loads(stats_json).get("cgrp") or {}
        except ValueError:
            cgrp = {}
        self.group_state = (str(cgrp.get("state", "")), str(cgrp.get("join_state", "")))
        self._stats_at = time.monotonic()
        if self._on_stats_cb is not None:
            self._on_stats_cb(stats_json)

    def _on_error(self, err: KafkaError) -> None:
        self.log.warning("kafka client error", error=str(err), code=err.name())

    # --- the loop ------------------------------------------------------------------------------
    def _consume(self) -> list[Message]:
        return list(self.consumer.consume(num_messages=self.spec.batch_max_messages, timeout=self.spec.poll_timeout_s))

    def run(self) -> None:
        """Consume until stopped; exits with EXIT_LOST_GROUP after `max_lost_s` without a confirmed group."""
        spec = self.spec
        self.consumer.subscribe(
            [spec.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        self._confirmed = time.monotonic()
        self._running = True
        try:
            while self.stop.running:
                self._beat = time.monotonic()
                messages = self.fetch()
                if messages:
                    with tracing.consume_span(spec.topic, messages):
                        self.process(messages)
                else:
                    self.producer.poll(0)
                    self._idle_check()
                    self._give_up_if_lost()
                if self.on_tick is not None:
                    self.on_tick()
        finally:
            self._running = False  # closing: not ready any more
            remaining = self.producer.flush(10)
            if remaining:
                self.log.warning("messages left undelivered at exit (not committed: replayed)", count=remaining)
            self.consumer.close()

    def process(self, messages: Sequence[Message]) -> None:
        """One batch end to end; a failed delivery rewinds it (it comes back through the loop) after a backoff."""
        try:
            self._process_once(messages)
            self._failures = 0
        except DeliveryFailed as exc:
            self._batch_end = time.monotonic()
            self._failures += 1
            self.log.error("delivery failed; rewinding the batch", error=str(exc), attempt=self._failures)
            self._rewind(messages)
            self.stop.wait(min(0.2 * 2**self._failures, 5.0))
        else:
            self._batch_end = time.monotonic()

    def _process_once(self, messages: Sequence[Message]) -> None:
        failed_before = self.delivery.failed
        records: list[Record] = []
        for msg, value in kafka.decoded(messages, self.dead_letter):
            records.append(Record(msg, value))
        crash_point("consumed")
        finish = self.handle(records) if records else None
        crash_point("handled")
        self.deliver(failed_before)
        crash_point("delivered")
        if finish is not None:
            finish()
        crash_point("finished")
        self.commit()
        crash_point("committed")

    def deliver(self, failed_before: int) -> None:
        """Flush the producer until every message produced is acknowledged; DeliveryFailed if any failed.

        A broker that does not answer keeps this waiting (no offset is committed meanwhile); past `max_lost_s` the
        loop gives up and exits, and the batch is replayed by whoever takes the partitions.
        """
        while self.producer.flush(1.0):
            if not self.stop.running:
                raise DeliveryFailed("stopping with messages not yet delivered")
            self._give_up_if_lost()
        if self.delivery.failed > failed_before:
            raise DeliveryFailed(f"{self.delivery.failed - failed_before} messages failed: {self.delivery.last_error}")

    def commit(self) -> None:
        """Commit the consumed positions; a success confirms the group (a failure only means a replay)."""
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                self.log.warning("commit failed; the batch will be replayed", error=str(exc))
                return
        self._confirmed = time.monotonic()

    def _rewind(self, messages: Sequence[Message]) -> None:
        first: dict[int, int] = {}
        for m in messages:
            if m.error() is None:
                p = int(m.partition() or 0)
                first[p] = min(first.get(p, int(m.offset() or 0)), int(m.offset() or 0))
        for p, offset in first.items():
            try:
                self.consumer.seek(TopicPartition(self.spec.topic, p, offset))
            except KafkaException as exc:  # not assigned any more: its new owner replays it
                self.log.warning("could not rewind partition", partition=p, error=str(exc))
        if self.on_rewind is not None:
            self.on_rewind()

    def dead_letter(self, msg: Message, reason: str, value: bytes | None = None) -> None:
        """Send (part of) a message to the DLQ with the reason; delivery is verified with the batch's."""
        kafka.dead_letter(self.producer, self.spec.dlq_topic, msg, reason, value)
        if self.on_dead_letter is not None:
            self.on_dead_letter(reason)

    # --- liveness ----------------------------------------------------------------------------------
    def _idle_check(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + IDLE_CHECK_S
        if self.confirm():
            self._confirmed = time.monotonic()
        self._restart_stalled()

    def confirm(self) -> bool:
        """True when the group is steady, the broker answers and no assigned partition has a backlog."""
        previous, self._unfetched = self._unfetched, {}
        state, join = self.group_state
        if time.monotonic() - self._stats_at > 3 * STATS_INTERVAL_MS / 1000 + CHECK_TIMEOUT_S:
            return False  # no statistics: the client's threads are not getting anywhere
        if state != "up" or join not in ("steady", ""):
            return False
        try:
            assigned = self.consumer.assignment()
            if not assigned:
                self.consumer.list_topics(self.spec.topic, timeout=CHECK_TIMEOUT_S)
                return True  # a steady member without partitions (more replicas than partitions) is idle
            committed = self.consumer.committed(assigned, timeout=CHECK_TIMEOUT_S)
            positions = {tp.partition: tp.offset for tp in self.consumer.position(assigned)}
            backlog = False
            unfetched: dict[int, tuple[int, int]] = {}
            for tp in committed:
                low, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high < 0:  # never fetched: the cached watermarks are unknown, not empty
                    low, high = self.consumer.get_watermark_offsets(tp, timeout=CHECK_TIMEOUT_S, cached=False)
                at = positions.get(tp.partition, OFFSET_INVALID)
                start = at if at >= 0 else tp.offset if tp.offset >= 0 else low
                if high > start >= 0:
                    backlog = True  # a backlog and no batch: not progress
                    if at < 0:
                        unfetched[tp.partition] = (start, high)
        except KafkaException:
            return False
        now = time.monotonic()
        self._unfetched = {p: (previous.get(p, (now,))[0], *offsets) for p, offsets in unfetched.items()}
        return not backlog

    def _restart_stalled(self) -> None:
        """Seek partitions that have had a backlog and no fetch position for STALL_S to their committed offset."""
        now = time.monotonic()
        for p, (since, start, high) in list(self._unfetched.items()):
            if now - since < STALL_S:
                continue
            self.log.warning(
                "partition has a backlog but is not being fetched; seeking it to its committed offset",
                partition=p,
                offset=start,
                high=high,
                seconds=round(now - since, 1),
                group_state=self.group_state,
            )
            try:
                self.consumer.seek(TopicPartition(self.spec.topic, p, start))
            except KafkaException as exc:
                self.log.warning("could not restart the partition", partition=p, error=str(exc))
            self._unfetched[p] = (now, start, high)

    def _give_up_if_lost(self) -> None:
        # counted from the later of the last confirmation and the end of the last batch: a batch that waited long
        # on a dependency (retry) is not time without a group, and its commit or the next check confirms again
        lost = time.monotonic() - max(self._confirmed, self._batch_end)
        if lost > self.spec.max_lost_s:
            self.log.error(
                "no confirmed consumer group membership; exiting so the supervisor restarts this workload",
                seconds=round(lost, 1),
                group=self.spec.group,
                group_state=self.group_state,
            )
            raise SystemExit(EXIT_LOST_GROUP)

    def ready(self) -> bool:
        """Ready when the group was confirmed recently and the workload's own dependencies answer."""
        recent = time.monotonic() - self._confirmed < READY_WITHIN_S
        return recent and self._running and self.stop.running and (self._ready is None or self._ready())

    def live(self) -> bool:
        """Live while the loop turns (or waits on a dependency through `retry`); a loop without its group exits."""
        return time.monotonic() - self._beat < self.spec.max_lost_s

    # --- the one retry helper ---------------------------------------------------------------------
    def retry(self, what: str, attempt: Callable[[], T], errors: tuple[type[BaseException], ...]) -> T:
        """Call `attempt` until it succeeds, backing off 0.2 s → 5 s on `errors`; re-raises when stopping.

        The loop counts as live meanwhile (the workload waits on a dependency, a restart would not help) but not as
        ready; offsets are not committed until the batch is done.
        """
        return retry(what, attempt, errors, self.stop, self.log, beat=self.touch)

    def touch(self) -> None:
        """Mark the loop as turning (for waits on a dependency outside `retry`)."""
        self._beat = time.monotonic()


def retry(
    what: str,
    attempt: Callable[[], T],
    errors: tuple[type[BaseException], ...],
    stop: StopFlag,
    log: Any,
    *,
    beat: Callable[[], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    first_delay: float = 0.2,
    max_delay: float = 5.0,
) -> T:
    """Call `attempt` until it succeeds, with exponential backoff on `errors`; logs the first failure and the
    recovery once. Re-raises the last error when a stop is requested."""
    delay = first_delay
    failing = False
    while True:
        if beat is not None:
            beat()
        try:
            result = attempt()
        except errors as exc:
            if on_error is not None:
                on_error(exc)
            if not failing:
                log.error(f"{what} failed; retrying", error=str(exc))
            failing = True
            if stop.wait(delay):
                raise
            delay = min(delay * 2, max_delay)
            continue
        if failing:
            log.info(f"{what} succeeds again")
        return result
