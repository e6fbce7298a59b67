"""The MQTT bridge's batcher: each gateway's messages become one submission, a sensor declared earlier in a batch
resolves later in it, malformed messages are refused one by one, and nothing is acknowledged before delivery."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from gridwatch.ingest import metrics, mqttclient
from gridwatch.ingest.mqtt import Bridge, Received, merge
from gridwatch.ingest.payloads import Parsed, SensorMeta
from gridwatch.ingest.pipeline import Done
from gridwatch.ingest.settings import IngestSettings

NOW_MS = int(time.time() * 1000)


class FakePipeline:
    """What the bridge calls on the pipeline; deliveries are completed by the test."""

    def __init__(self) -> None:
        self.labels = metrics.init("unit")
        self.catalog: dict[str, SensorMeta] = {}
        self.submitted: list[tuple[str, Parsed, Done]] = []
        self.rejected: list[tuple[str, str, Done | None]] = []

    def lookup(self, sensor_id: str) -> SensorMeta | None:
        return self.catalog.get(sensor_id)

    def declare(self, gateway: str, metas: list[SensorMeta]) -> None:
        for meta in metas:
            self.catalog[meta.sensor_id] = meta

    def submit(self, gateway: str, transport: str, parsed: Parsed, done: Done) -> None:
        self.submitted.append((gateway, parsed, done))

    def reject(
        self, gateway: str, transport: str, body: bytes, reason: str, problems: Any, done: Done | None = None
    ) -> None:
        self.rejected.append((gateway, reason, done))


class FakeClient:
    def __init__(self) -> None:
        self.acks: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append(mid)

    def ack_many(self, mids: list[int]) -> None:
        self.acks.extend(mids)


@pytest.fixture
def bridge(monkeypatch: pytest.MonkeyPatch) -> tuple[Bridge, FakePipeline, FakeClient]:
    monkeypatch.setenv("GRIDWATCH_SITE", "unit")
    pipeline = FakePipeline()
    b = Bridge(IngestSettings(), pipeline)  # type: ignore[arg-type]
    client = FakeClient()
    b.client = client  # type: ignore[assignment]
    return b, pipeline, client


def message(mid: int, gateway: str, body: Any) -> Received:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Received(f"gridwatch/unit/{gateway}/telemetry", mid, 1, payload, 0.0)


def test_a_batch_is_one_submission_per_gateway_acknowledged_only_on_delivery(
    bridge: tuple[Bridge, FakePipeline, FakeClient],
) -> None:
    b, pipeline, client = bridge
    batch = [
        message(1, "gw-a", {"ts": NOW_MS, "values": {"k_power": 1.0}}),
        message(2, "gw-b", {"ts": NOW_MS, "values": {"k_power": 2.0}}),
        message(3, "gw-a", {"ts": NOW_MS + 1000, "values": {"k_power": 3.0, "j_current": 4.0}}),
    ]
    b.handle(batch)
    assert [(g, p.values) for g, p, _ in pipeline.submitted] == [("gw-a", [1.0, 3.0, 4.0]), ("gw-b", [2.0])]
    assert client.acks == []
    pipeline.submitted[0][2]("broker down")  # a failed delivery: no acknowledgement, the broker resends
    assert client.acks == []
    pipeline.submitted[1][2](None)
    pipeline.submitted[0][2](None)
    assert client.acks == [2, 1, 3]


def test_a_sensor_declared_in_a_batch_resolves_later_in_it(bridge: tuple[Bridge, FakePipeline, FakeClient]) -> None:
    b, pipeline, _ = bridge
    declare = {"sensors": [{"id": "gw-a.oil", "type": "temperature", "unit": "°C", "machine": "m1"}],
               "ts": [NOW_MS], "values": [[40.0]]}  # fmt: skip
    later = {"sensors": [{"id": "gw-a.oil"}], "ts": [NOW_MS + 1000], "values": [[41.0]]}
    b.handle([message(1, "gw-a", declare), message(2, "gw-a", later)])
    ((_, parsed, _),) = pipeline.submitted
    assert parsed.values == [40.0, 41.0] and parsed.rejected_total == 0
    assert parsed.machines == ["m1", "m1"]
    assert parsed.declared == []  # declared once, while parsing; the submission would declare it again


def test_a_single_message_declaration_reaches_the_registry_once(
    bridge: tuple[Bridge, FakePipeline, FakeClient],
) -> None:
    b, pipeline, _ = bridge
    declare = {"sensors": [{"id": "gw-a.oil", "type": "temperature", "unit": "°C", "machine": "m1"}],
               "ts": [NOW_MS], "values": [[40.0]]}  # fmt: skip
    b.handle([message(1, "gw-a", declare)])
    ((_, parsed, _),) = pipeline.submitted
    assert parsed.declared == [] and pipeline.catalog["gw-a.oil"].machine == "m1"


def test_malformed_messages_are_refused_alone(bridge: tuple[Bridge, FakePipeline, FakeClient]) -> None:
    b, pipeline, client = bridge
    good = {"ts": NOW_MS, "values": {"k_power": 1.0}}
    bad_topic = Received("gridwatch/unit/$bad/telemetry", 2, 1, json.dumps(good).encode(), 0.0)
    b.handle([message(1, "gw-a", good), bad_topic, message(3, "gw-a", b"{not json")])
    assert [(g, "valid gateway" in r or "JSON" in r) for g, r, _ in pipeline.rejected] == [
        ("unknown", True),
        ("gw-a", True),
    ]
    assert len(pipeline.submitted) == 1 and pipeline.submitted[0][1].values == [1.0]
    for _, _, done in pipeline.rejected:  # a refused message is acknowledged once its dead letter is written
        assert done is not None
        done(None)
    assert sorted(client.acks) == [2, 3]


def test_merge_keeps_every_column_in_order() -> None:
    a = Parsed(sensor_ids=["s1"], machines=["m"], ts=[1.0], values=[1.0], rejected_total=1)
    b = Parsed(sensor_ids=["s2"], machines=["m"], ts=[2.0], values=[2.0], rejected_total=2)
    m = merge([a, b])
    assert (m.sensor_ids, m.ts, m.values, m.rejected_total) == (["s1", "s2"], [1.0, 2.0], [1.0, 2.0], 3)


def test_ack_many_writes_exactly_the_pubacks_paho_would_write_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_SITE", "unit")
    c = mqttclient.client(IngestSettings(), "unit", clean_session=False, manual_ack=True)
    queued: list[bytes] = []
    monkeypatch.setattr(c, "_packet_queue", lambda command, packet, mid, qos, info=None: queued.append(bytes(packet)))
    mids = [1, 2, 300, 65535]
    for mid in mids:
        c.ack(mid, 1)
    one_by_one, queued[:] = b"".join(queued), []
    c.ack_many(mids)
    assert queued == [one_by_one]


def _publish(topic: str, payload: bytes) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 0 (fixed header, remaining length, topic, payload)."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + payload
    size, length = len(body), bytearray()
    while True:
        size, digit = divmod(size, 128)
        length.append(digit | (128 if size else 0))
        if not size:
            break
    return bytes([0x30]) + bytes(length) + body


def test_buffered_reads_deliver_every_message_in_order_with_few_recv_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_SITE", "unit")
    c = mqttclient.client(IngestSettings(), "unit", clean_session=False, manual_ack=True)
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    got: list[tuple[str, bytes]] = []
    c.on_message = lambda client, userdata, msg: got.append((msg.topic, bytes(msg.payload)))
    c._sock = reader
    recv_calls = [0]
    real_recv = mqtt.Client._sock_recv

    def counting(self: mqtt.Client, bufsize: int) -> bytes:
        recv_calls[0] += 1
        return real_recv(self, bufsize)

    monkeypatch.setattr(mqtt.Client, "_sock_recv", counting)
    sent = [(f"gridwatch/unit/gw{i % 3}/telemetry", f'{{"v": {i}}}'.encode() * (1 + i % 5)) for i in range(1500)]
    stream = b"".join(_publish(t, p) for t, p in sent)
    assert len(stream) < 200_000  # each half fits the socket buffers: no writer thread needed
    cut = len(stream) // 2 + 3  # the second write starts in the middle of a packet
    writer.sendall(stream[:cut])
    assert c.loop_read() == 0
    writer.sendall(stream[cut:])
    while c.loop_read() == 0 and len(got) < len(sent):
        pass
    assert got == sent
    assert recv_calls[0] < len(sent) / 10  # paho alone makes three or more per message
    # a new connection drops what the old one left in the buffer
    writer.sendall(_publish("gridwatch/unit/gw0/telemetry", b"x")[:3])
    assert c.loop_read() == 0
    reader2, writer2 = socket.socketpair()
    reader2.setblocking(False)
    c._sock = reader2
    c._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                    "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}  # fmt: skip
    writer2.sendall(_publish("gridwatch/unit/gw1/telemetry", b"fresh"))
    c.loop_read()
    assert got[-1] == ("gridwatch/unit/gw1/telemetry", b"fresh")
    for s in (reader, writer, reader2, writer2):
        s.close()
    c._sock = None


def test_topic_callbacks_still_dispatch_through_paho(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_SITE", "unit")
    c = mqttclient.client(IngestSettings(), "unit", clean_session=False)
    plain: list[str] = []
    special: list[str] = []
    c.on_message = lambda client, userdata, msg: plain.append(msg.topic)
    c.message_callback_add("special/#", lambda client, userdata, msg: special.append(msg.topic))
    for topic in ("special/a", "other/b"):
        msg = mqtt.MQTTMessage(topic=topic.encode())
        c._handle_on_message(msg)
    assert (plain, special) == (["other/b"], ["special/a"])
