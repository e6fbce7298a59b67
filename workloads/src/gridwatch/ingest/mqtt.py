"""MQTT bridge: `gridwatch/<site>/<gateway>/telemetry` at QoS 1, acknowledged only once Kafka has the readings."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import structlog

from gridwatch.ingest import metrics, mqttclient
from gridwatch.ingest.payloads import PayloadError, decode_body, parse
from gridwatch.ingest.pipeline import Backpressure, Pipeline
from gridwatch.ingest.settings import IngestSettings
from gridwatch.ingest.tokens import GATEWAY_PATTERN

log = structlog.get_logger(__name__)
_GATEWAY = re.compile(GATEWAY_PATTERN)


def content_type(payload: bytes) -> str:
    """MQTT 3.1.1 carries no content type: JSON starts with `{` or `[`, anything else is taken as msgpack."""
    head = payload.lstrip()[:1]
    return "application/json" if head in (b"{", b"[") else "application/msgpack"


class Bridge:
    """One persistent MQTT session (clean_session=False) so the broker keeps what arrives while we are away."""

    def __init__(self, settings: IngestSettings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.labels = pipeline.labels
        self.connected = False
        self._stopping = threading.Event()
        self.client = mqttclient.client(settings, settings.mqtt_session, clean_session=False, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> Bridge:
        """Connect in the background; paho reconnects by itself."""
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for the next session."""
        self._stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect refused", reason=str(reason))
            return
        self.connected = True
        client.subscribe(self.settings.mqtt_topic, qos=1)
        log.info(
            "MQTT connected",
            broker=f"{self.settings.mqtt_host}:{self.settings.mqtt_port}",
            topic=self.settings.mqtt_topic,
        )

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected = False
        if not self._stopping.is_set():
            log.warning("MQTT disconnected; reconnecting", reason=str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        started = time.perf_counter()
        parts = message.topic.split("/")
        mid, qos = message.mid, message.qos
        payload = bytes(message.payload)

        def ack(err: str | None = None) -> None:
            if err is None and qos > 0:
                client.ack(mid, qos)

        def record(code: str) -> None:
            metrics.REQUESTS.labels(**self.labels, transport="mqtt", code=code).inc()

        gateway = parts[2] if len(parts) == 4 else ""
        if not _GATEWAY.match(gateway):
            self.pipeline.reject("unknown", "mqtt", payload, f"topic '{message.topic}' names no valid gateway", [], ack)
            record("bad_topic")
            return
        try:
            parsed = parse(decode_body(payload, content_type(payload)), gateway, self.pipeline.lookup, time.time())
        except PayloadError as exc:
            self.pipeline.reject(gateway, "mqtt", payload, f"message refused: {exc}", exc.problems, ack)
            record("invalid")
            return

        def delivered(err: str | None) -> None:
            if err is not None:
                log.warning("Kafka refused MQTT readings; not acknowledging, the broker resends", error=err)
                return
            ack()
            metrics.REQUEST_SECONDS.labels(**self.labels, transport="mqtt").observe(time.perf_counter() - started)

        while not self._stopping.is_set():
            try:
                self.pipeline.submit(gateway, "mqtt", parsed, delivered)
                record("accepted")
                return
            except Backpressure:
                # not acknowledging is MQTT's flow control: the broker stops sending once its in-flight window fills
                time.sleep(0.05)
