"""MQTT -> ingest bridge -> Kafka -> processor -> Redis on a real Mosquitto: exactly once across a broker restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import redis
from gridwatch.common.rediskeys import Keys
from paho.mqtt.enums import CallbackAPIVersion

from tests.infra.mosquitto import Mosquitto
from tests.utils.workloads import Workload, free_port, wait_for

GATEWAYS = ("line-1", "line-2")
KEYS = ("power", "current", "voltage", "spindle_temperature", "oil_pressure")
MESSAGES = 1000  # x 2 readings of 5 keys = 10,000 readings


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


class Publisher:
    """A device-side QoS 1 publisher with a persistent session: it resends what the broker did not acknowledge."""

    def __init__(self, port: int) -> None:
        self.acked: set[int] = set()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"devices-{time.time()}", clean_session=False
        )
        self.client.on_publish = self._on_publish
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        with self.lock:
            self.acked.add(mid)

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        return int(info.mid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def payload(i: int, t0_ms: int) -> bytes:
    return json.dumps(
        [{"ts": t0_ms + 1000 * (2 * i + k), "values": dict.fromkeys(KEYS, 10.0 + k)} for k in range(2)]
    ).encode()


def test_ten_thousand_mqtt_readings_exactly_once_across_a_broker_restart(
    base_env: dict[str, str], broker: Mosquitto, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    metrics_port = free_port()
    ingest = Workload(
        "ingest",
        {
            **base_env,
            **broker.env(),
            "GRIDWATCH_INGEST_MQTT_ENABLED": "true",
            "GRIDWATCH_INGEST_HTTP_ENABLED": "false",
            "GRIDWATCH_METRICS_PORT": str(metrics_port),
            "GRIDWATCH_INGEST_HEARTBEAT_INTERVAL_S": "1",
        },
        tmp_path,
    )
    proc = Workload("processor", {**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    proc.start()
    ingest.start()
    publisher: Publisher | None = None
    try:
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{metrics_port}/readyz").status_code == 200,
            60,
            "bridge connected",
            logs=(ingest,),
        )
        publisher = Publisher(broker.port)
        t0 = int((time.time() - 7200) * 1000)
        mids: list[int] = []
        for i in range(MESSAGES):
            gateway = GATEWAYS[i % 2]
            mids.append(publisher.publish(f"gridwatch/{site}/{gateway}/telemetry", payload(i // 2, t0)))
            if i == MESSAGES // 2:
                broker.stop()  # mid-stream: what the broker acknowledged is on disk, the rest the devices resend
                time.sleep(1)
                broker.start()
        pub = publisher
        wait_for(lambda: len(pub.acked) >= MESSAGES, 90, "the broker acknowledging every message", logs=(ingest,))
        assert set(mids) <= pub.acked
        wait_for(
            lambda: int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) >= 10_000,
            120,
            "10,000 readings in Redis",
            logs=(ingest, proc),
        )
        time.sleep(2)
        assert int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) == 10_000
        raw: dict[bytes, bytes] = redis_client.hgetall(Keys(site).sensors)  # type: ignore[assignment]
        counts = {k.decode(): json.loads(v)["readings"] for k, v in raw.items()}
        assert len(counts) == 10 and set(counts.values()) == {1000}, counts
        assert {json.loads(v)["source"] for v in raw.values()} == {"mqtt"}  # what the UI shows as their source
        beats: list[bytes] = redis_client.hkeys(Keys(site).producers)  # type: ignore[assignment]
        assert {b.decode() for b in beats} >= set(GATEWAYS)
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'gridwatch_ingest_readings_total{component="ingest",site="' in scrape
    finally:
        if publisher is not None:
            publisher.close()
        assert ingest.stop() == 0, ingest.log()[-3000:]
        proc.stop()
