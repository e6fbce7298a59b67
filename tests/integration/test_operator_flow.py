"""The operator's view of data flow on a real Kafka: the readings topic's tail gives the newest message time and the
producers' heartbeats, without joining a group or committing anything."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, encode
from gridwatch_operator.flow import heartbeat, sensors_reporting
from gridwatch_operator.topics import Kafka as OperatorKafka

from tests.infra.services import Kafka


def _topic(bootstrap: str, partitions: int) -> str:
    name = f"flow-{uuid.uuid4().hex[:8]}.readings"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(30)
    return name


def test_tail_reads_newest_time_and_heartbeats(kafka: Kafka) -> None:
    topic = _topic(kafka.bootstrap, 2)
    ops = OperatorKafka(timeout=20)
    deadline = time.time() + 60
    while ops.partitions(kafka.bootstrap, topic) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert ops.tail(kafka.bootstrap, topic, 64) == (None, [])  # exists, but nothing arrived yet

    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    before = time.time()
    for gateway, sensors in (("gw-1", 12), ("gw-2", 30)):
        for i in range(3):
            beat = Heartbeat(
                schema_version=SCHEMA_VERSION,
                site="flow",
                producer=gateway,
                ts=time.time(),
                sensors=sensors + i,  # the latest one counts
                readings_sent=0,
                rate=0.0,
            )
            producer.produce(topic, encode(beat), gateway.encode())
            producer.produce(topic, b"not a heartbeat", f"sensor-{i}".encode())
    assert producer.flush(30) == 0

    newest, values = ops.tail(kafka.bootstrap, topic, 64)
    assert newest is not None and before - 1 <= newest <= time.time() + 1
    beats = [b for b in map(heartbeat, values) if b is not None]
    assert len(beats) == 6 and len(values) == 12
    assert sensors_reporting(beats, time.time(), 60) == 14 + 32
    # only the tail: with one message per partition a partition's older heartbeats are not read
    _, last = ops.tail(kafka.bootstrap, topic, 1)
    assert len(last) == 2

    # the tail joined no group and committed nothing
    probe = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "gridwatch-operator-tail"})
    try:
        committed = probe.committed([TopicPartition(topic, p) for p in range(2)], timeout=20)
        assert all(tp.offset < 0 for tp in committed)
    finally:
        probe.close()
