"""Kafka -> ingest downlink -> MQTT on a real Mosquitto: a Command on `<site>.commands` reaches its device's topic
`gridwatch/<site>/<device>/commands` at QoS 1 (also across a broker restart); expired and dry-run commands are not
delivered, undecodable ones are dead-lettered with their reason."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import Consumer, Producer
from gridwatch.common import kafka as gkafka
from gridwatch.common.schema import SCHEMA_VERSION, Command, CommandKind, encode
from paho.mqtt.enums import CallbackAPIVersion

from tests.infra.mosquitto import Mosquitto
from tests.infra.services import Kafka
from tests.utils.workloads import Workload, free_port, wait_for


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


class Device:
    """A device that subscribes to every command topic of its site at QoS 1, with a persistent session."""

    def __init__(self, port: int, site: str) -> None:
        self.topic = f"gridwatch/{site}/+/commands"
        self.received: list[tuple[str, int, Command]] = []
        self.subscribed = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"device-{uuid.uuid4().hex}",
            clean_session=False,
        )
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        cmd = msgspec.json.decode(message.payload, type=Command)
        with self.lock:
            self.received.append((message.topic, message.qos, cmd))

    def ids(self) -> list[str]:
        with self.lock:
            return [c.command_id for _, _, c in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def command(site: str, target: str, **kw: object) -> Command:
    now = time.time()
    fields: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "site": site,
        "command_id": uuid.uuid4().hex,
        "ts": now,
        "target": target,
        "kind": CommandKind.BATTERY_SETPOINT,
        "setpoint_kw": -12.5,
        "valid_until_ts": now + 600,
        "plan_id": "p1",
        "reason": "plan step",
        **kw,
    }
    return Command(**fields)  # type: ignore[arg-type]


def metric(port: int, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(f"{name}{{{want}}}")


def test_commands_on_kafka_reach_the_device_topic_over_mqtt(
    kafka: Kafka, base_env: dict[str, str], broker: Mosquitto, site: str, tmp_path: Path
) -> None:
    port = free_port()
    ingest = Workload(
        "ingest",
        {
            **base_env,
            **broker.env(),
            "GRIDWATCH_INGEST_MQTT_ENABLED": "true",
            "GRIDWATCH_INGEST_HTTP_ENABLED": "false",
            "GRIDWATCH_METRICS_PORT": str(port),
        },
        tmp_path,
    )
    gkafka.ensure_topics(kafka.bootstrap, [f"{site}.commands", f"{site}.dlq"], 4)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    dlq = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-dlq", "auto.offset.reset": "earliest"})
    dlq.subscribe([f"{site}.dlq"])
    device = Device(broker.port, site)
    ingest.start()
    try:
        assert device.subscribed.wait(30)
        wait_for(
            lambda: metric(port, "gridwatch_ingest_downlink_connected", site=site) == 1,
            60,
            "the downlink connected to the broker",
            logs=(ingest,),
        )
        battery = command(site, "battery-1")
        load = command(site, "dryer", kind=CommandKind.LOAD_LIMIT, setpoint_kw=0.0)
        sent = [
            battery,
            load,
            command(site, "battery-1", valid_until_ts=time.time() - 1),  # expired: never acted on late
            command(site, "battery-1", dry_run=True),
            command(site, "a/b"),  # not one topic level
        ]
        for c in sent:
            producer.produce(f"{site}.commands", encode(c), c.target.encode())
        producer.produce(f"{site}.commands", b"\xc1 not msgpack", b"x")
        assert producer.flush(10) == 0

        wait_for(lambda: len(device.ids()) >= 2, 60, "two commands at the device", logs=(ingest,))
        time.sleep(2)  # nothing else arrives
        with device.lock:
            got = {c.command_id: (topic, qos, c) for topic, qos, c in device.received}
        assert set(got) == {battery.command_id, load.command_id}
        assert got[battery.command_id][:2] == (f"gridwatch/{site}/battery-1/commands", 1)
        assert got[load.command_id][:2] == (f"gridwatch/{site}/dryer/commands", 1)
        assert got[battery.command_id][2] == battery and got[load.command_id][2] == load

        reasons: list[str] = []

        def dead_lettered() -> bool:
            for msg in dlq.consume(10, timeout=0.5):
                if msg.error() is None:
                    reason = dict(msg.headers() or [])["gridwatch.dlq.reason"]
                    reasons.append(reason.decode() if isinstance(reason, bytes) else str(reason))
            return len(reasons) >= 2

        wait_for(dead_lettered, 30, "two dead-lettered commands", logs=(ingest,))
        assert sorted(r.split(":")[0] for r in reasons) == [
            "invalid message",
            "target 'a/b' is not a valid MQTT topic level",
        ]
        counts = {
            o: metric(port, "gridwatch_ingest_downlink_commands_total", site=site, outcome=o)
            for o in ("delivered", "expired", "dry_run", "invalid")
        }
        assert counts == {"delivered": 2, "expired": 1, "dry_run": 1, "invalid": 2}

        # the broker goes away: a command sent meanwhile is delivered once it is back
        broker.stop()
        wait_for(lambda: metric(port, "gridwatch_ingest_downlink_connected", site=site) == 0, 30, "downlink noticed")
        late = command(site, "battery-1", setpoint_kw=5.0)
        producer.produce(f"{site}.commands", encode(late), late.target.encode())
        assert producer.flush(10) == 0
        time.sleep(2)
        broker.start()
        wait_for(
            lambda: late.command_id in device.ids(), 90, "the command sent while the broker was down", logs=(ingest,)
        )
    finally:
        device.close()
        dlq.close()
        code = ingest.stop()
    assert code == 0, ingest.log()[-3000:]
