"""The one consumer loop on a real broker: a failed delivery is seen before the commit, and the batch is retried."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import structlog
from confluent_kafka import Consumer, Producer, TopicPartition
from gridwatch.common import kafka as gwkafka
from gridwatch.common.consumer import EXIT_LOST_GROUP, ConsumerLoop, ConsumerSpec, Record
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, encode
from gridwatch.common.shutdown import StopFlag

from tests.infra.services import Kafka


def beat(n: int) -> bytes:
    return encode(Heartbeat(SCHEMA_VERSION, "s", f"p{n}", float(n + 1), 0, 0, 0.0))


def committed(kafka_: Kafka, group: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": kafka_.bootstrap, "group.id": group})
    try:
        (tp,) = c.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        c.close()


def run_until(loop: ConsumerLoop, stop: StopFlag, done: Callable[[], bool], timeout: float = 60) -> None:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.stop()
    thread.join(30)
    assert not thread.is_alive()


def test_a_failed_delivery_rewinds_the_batch_and_nothing_is_committed_past_it(kafka: Kafka, site: str) -> None:
    topic, out, dlq = f"{site}.in", f"{site}.out", f"{site}.dlq"
    gwkafka.ensure_topics(kafka.bootstrap, [topic, out, dlq], 1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for n in range(5):
        producer.produce(topic, beat(n), partition=0)
    producer.produce(topic, b"not msgpack", partition=0)  # a dead letter rides with the batch's delivery
    assert producer.flush(30) == 0
    group = f"{site}.loop"
    stop = StopFlag()
    seen: list[list[int]] = []
    commits_at_handle: list[int] = []

    def handle(records: list[Record]) -> Callable[[], None]:
        seen.append([r.offset for r in records])
        commits_at_handle.append(committed(kafka, group, topic))
        # the first attempt produces a message the broker refuses (larger than its 1 MiB message.max.bytes)
        size = 2_000_000 if len(seen) == 1 else 10
        gwkafka.produce(loop.producer, out, os.urandom(size))  # random: lz4 cannot shrink it
        return lambda: None

    loop = ConsumerLoop(
        ConsumerSpec(kafka.bootstrap, topic, group, "test", dlq, batch_max_messages=100, poll_timeout_s=0.5),
        handle,
        stop,
        structlog.get_logger("test"),
    )
    run_until(loop, stop, lambda: len(seen) >= 2 and committed(kafka, group, topic) == 6)
    assert loop.delivery.failed >= 1 and "MSG_SIZE_TOO_LARGE" in str(loop.delivery.last_error)
    assert seen[0] == seen[1] == [0, 1, 2, 3, 4], seen  # rewound and handed over again
    assert commits_at_handle[1] < 0, "the failed batch must not have been committed"
    assert committed(kafka, group, topic) == 6


def test_a_loop_that_cannot_confirm_its_group_is_not_ready_and_exits_non_zero(kafka: Kafka, site: str) -> None:
    topic, dlq = f"{site}.in", f"{site}.dlq"
    gwkafka.ensure_topics(kafka.bootstrap, [topic, dlq], 1)
    stop = StopFlag()
    loop = ConsumerLoop(
        ConsumerSpec(kafka.bootstrap, topic, f"{site}.lost", "test", dlq, poll_timeout_s=0.2, max_lost_s=20),
        lambda records: None,
        stop,
        structlog.get_logger("test"),
    )
    exits: list[object] = []

    def run() -> None:
        try:
            loop.run()
        except SystemExit as exc:
            exits.append(exc.code)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not loop.ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert loop.ready(), "an idle member of a steady group is ready"
    assert kafka.pid is not None
    os.kill(kafka.pid, signal.SIGSTOP)
    ready_during: list[bool] = []
    try:
        stalled = time.monotonic()
        while not exits and time.monotonic() - stalled < 35:
            ready_during.append(loop.ready())
            time.sleep(0.5)
    finally:
        os.kill(kafka.pid, signal.SIGCONT)
    thread.join(60)
    stop.stop()
    assert exits == [EXIT_LOST_GROUP]
    assert not all(ready_during), "not ready while the broker does not answer"
