"""MQTT bridge: `gridwatch/<site>/<gateway>/telemetry` at QoS 1, coalesced per gateway into few Kafka messages and
acknowledged only once Kafka has the readings."""

from __future__ import annotations

import re
import threading
import time
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
import structlog

from gridwatch.ingest import metrics, mqttclient
from gridwatch.ingest.payloads import Parsed, PayloadError, decode_body, parse
from gridwatch.ingest.pipeline import Backpressure, Pipeline
from gridwatch.ingest.settings import IngestSettings
from gridwatch.ingest.tokens import GATEWAY_PATTERN

log = structlog.get_logger(__name__)
_GATEWAY = re.compile(GATEWAY_PATTERN)


def content_type(payload: bytes) -> str:
    """MQTT 3.1.1 carries no content type: JSON starts with `{` or `[`, anything else is taken as msgpack."""
    head = payload.lstrip()[:1]
    return "application/json" if head in (b"{", b"[") else "application/msgpack"


class Received(NamedTuple):
    """One MQTT message as it came off the socket, waiting for the batcher."""

    topic: str
    mid: int
    qos: int
    payload: bytes
    started: float  # perf_counter at receipt


def merge(parts: list[Parsed]) -> Parsed:
    """One gateway's messages of a batch as one set of columns (declarations are applied as each is parsed, so none
    are carried here)."""
    if len(parts) == 1:
        return parts[0]
    out = Parsed()
    for p in parts:
        out.sensor_ids += p.sensor_ids
        out.machines += p.machines
        out.types += p.types
        out.ts += p.ts
        out.values += p.values
        out.rejected += p.rejected
        out.rejected_total += p.rejected_total
    return out


class Bridge:
    """One persistent MQTT session (clean_session=False) so the broker keeps what arrives while we are away.

    paho's network thread only queues each message; a batcher thread takes what queued within `mqtt_batch_wait_ms`
    (or `mqtt_batch_messages` of them), parses each, and produces each gateway's readings as one submission, so
    the per-message cost is paho's and the parse, not a Kafka produce, a delivery callback and a trace span each.
    Every message is still acknowledged only after Kafka has all of its readings; the broker's in-flight window
    for the session (Mosquitto's `max_inflight_messages`) bounds how many wait at once.
    """

    def __init__(self, settings: IngestSettings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.labels = pipeline.labels
        self.connected = False
        self._stopping = threading.Event()
        self._queue: list[Received] = []
        self._cond = threading.Condition()
        self._batcher = threading.Thread(target=self._batch_loop, name="mqtt-batcher", daemon=True)
        self.client = mqttclient.client(settings, settings.mqtt_session, clean_session=False, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._accepted = metrics.REQUESTS.labels(**self.labels, transport="mqtt", code="accepted")
        self._seconds = metrics.REQUEST_SECONDS.labels(**self.labels, transport="mqtt")

    @property
    def healthy(self) -> bool:
        """Connected to the broker, with the batcher running."""
        return self.connected and self._batcher.is_alive()

    def start(self) -> Bridge:
        """Connect in the background; paho reconnects by itself."""
        self._batcher.start()
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for the next session."""
        self._stopping.set()
        with self._cond:
            self._cond.notify()
        self.client.disconnect()
        self.client.loop_stop()
        self._batcher.join(5)

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
        item = Received(message.topic, message.mid, message.qos, bytes(message.payload), time.perf_counter())
        with self._cond:
            self._queue.append(item)
            if len(self._queue) == 1 or len(self._queue) >= self.settings.mqtt_batch_messages:
                self._cond.notify()

    def _batch_loop(self) -> None:
        wait_s = self.settings.mqtt_batch_wait_ms / 1000
        while not self._stopping.is_set():
            with self._cond:
                while not self._queue and not self._stopping.is_set():
                    self._cond.wait()
                if len(self._queue) < self.settings.mqtt_batch_messages:
                    self._cond.wait(wait_s)  # let the rest of a burst arrive
                batch, self._queue = self._queue, []
            if batch and not self._stopping.is_set():
                try:
                    self.handle(batch)
                except Exception:  # a bug must not stop the bridge; unacknowledged messages come back on reconnect
                    log.exception("MQTT batch failed; its messages stay unacknowledged", messages=len(batch))

    def _ack(self, item: Received) -> None:
        if item.qos > 0:
            self.client.ack(item.mid, item.qos)

    def handle(self, batch: list[Received]) -> None:
        """Parse a batch, refuse what is malformed (each message to the DLQ), and submit the rest per gateway."""
        by_gateway: dict[str, tuple[list[Received], list[Parsed]]] = {}
        now = time.time()
        for item in batch:
            parts = item.topic.split("/")
            gateway = parts[2] if len(parts) == 4 else ""

            def ack(err: str | None = None, item: Received = item) -> None:
                if err is None:
                    self._ack(item)

            if not _GATEWAY.match(gateway):
                reason = f"topic '{item.topic}' names no valid gateway"
                self.pipeline.reject("unknown", "mqtt", item.payload, reason, [], ack)
                metrics.REQUESTS.labels(**self.labels, transport="mqtt", code="bad_topic").inc()
                continue
            try:
                body = decode_body(item.payload, content_type(item.payload))
                parsed = parse(body, gateway, self.pipeline.lookup, now)
            except PayloadError as exc:
                self.pipeline.reject(gateway, "mqtt", item.payload, f"message refused: {exc}", exc.problems, ack)
                metrics.REQUESTS.labels(**self.labels, transport="mqtt", code="invalid").inc()
                continue
            # declared now, so a later message of the batch that uses the sensor resolves it as it did before
            # (and only now: the submission carries no declarations, so the registry gets each one once)
            self.pipeline.declare(gateway, parsed.declared)
            parsed.declared = []
            items, parsed_list = by_gateway.setdefault(gateway, ([], []))
            items.append(item)
            parsed_list.append(parsed)
        for gateway, (items, parsed_list) in by_gateway.items():
            self._submit(gateway, items, merge(parsed_list))

    def _submit(self, gateway: str, items: list[Received], parsed: Parsed) -> None:
        def delivered(err: str | None) -> None:
            if err is not None:
                log.warning("Kafka refused MQTT readings; not acknowledging, the broker resends", error=err)
                return
            done = time.perf_counter()
            self.client.ack_many([item.mid for item in items if item.qos == 1])
            for item in items:
                if item.qos == 2:
                    self._ack(item)
                self._seconds.observe(done - item.started)

        while not self._stopping.is_set():
            try:
                self.pipeline.submit(gateway, "mqtt", parsed, delivered)
                self._accepted.inc(len(items))
                return
            except Backpressure:
                # not acknowledging is MQTT's flow control: the broker stops sending once its in-flight window fills
                time.sleep(0.05)
