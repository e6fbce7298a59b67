"""MQTT downlink: `Command`s from `<prefix>.commands` to `gridwatch/<site>/<device>/commands` at QoS 1, committed to
Kafka only once the broker acknowledged them (at least once; expired and dry-run commands are not delivered)."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import Counter, Gauge

from gridwatch.common import kafka
from gridwatch.common.metrics import LABELS
from gridwatch.common.schema import Command, InvalidMessage, decode
from gridwatch.ingest import mqttclient
from gridwatch.ingest.settings import IngestSettings

log = structlog.get_logger(__name__)
# one MQTT topic level: no separators or wildcards, no leading `$` (broker-internal topics)
DEVICE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")
OUTCOMES = ("delivered", "expired", "dry_run", "other_site", "invalid")
COMMANDS = Counter(
    "gridwatch_ingest_downlink_commands_total",
    "Commands read from <prefix>.commands, by outcome (delivered: the broker acknowledged the QoS 1 publish)",
    (*LABELS, "outcome"),
)
CONNECTED = Gauge("gridwatch_ingest_downlink_connected", "1 while the downlink's MQTT session is up", LABELS)


def command_topic(site: str, device: str) -> str:
    """The MQTT topic a device subscribes to for its commands."""
    return f"gridwatch/{site}/{device}/commands"


class Downlink:
    """One Kafka consumer on the commands topic and one MQTT client that publishes each command to its device."""

    def __init__(self, settings: IngestSettings, labels: dict[str, str], producer: Producer) -> None:
        self.settings = settings
        self.labels = labels
        self.producer = producer  # the pipeline's, for dead letters
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        host = socket.gethostname()
        self.consumer = Consumer(
            kafka.consumer_config(settings.kafka_bootstrap, settings.downlink_group, f"ingest-downlink@{host}")
        )
        self.client = mqttclient.client(settings, settings.downlink_client_id, clean_session=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        for outcome in OUTCOMES:
            COMMANDS.labels(**labels, outcome=outcome)
        CONNECTED.labels(**labels).set(0)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("downlink MQTT connect refused", reason=str(reason))
            return
        self.connected.set()
        CONNECTED.labels(**self.labels).set(1)
        log.info("downlink MQTT connected", topic=command_topic(self.settings.site, "<device>"))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        CONNECTED.labels(**self.labels).set(0)
        if not self._stop.is_set():
            log.warning("downlink MQTT disconnected; reconnecting", reason=str(reason))

    def start(self) -> Downlink:
        """Create the commands topic if needed, subscribe, connect, and run the forwarding thread."""
        s = self.settings
        topic = s.topic("commands")
        kafka.ensure_topics(s.kafka_bootstrap, [topic], s.partitions, s.replication_factor)
        self.consumer.subscribe([topic])
        self.client.connect_async(s.mqtt_host, s.mqtt_port, keepalive=30)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="mqtt-downlink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the batch in hand (or give it up uncommitted), then disconnect and leave the group."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
        self.client.disconnect()
        self.client.loop_stop()
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.connected.wait(0.5):
                continue
            messages = self.consumer.consume(num_messages=100, timeout=0.5)
            if not messages:
                continue
            try:
                self.step(messages)
            except Exception:  # one bad batch must not end the downlink; it is retried
                log.exception("downlink batch failed; retrying it")
                self._rewind(messages)

    def step(self, messages: list[Message]) -> None:
        """Forward one consumed batch, then commit it; an undelivered batch is rewound and sent again."""
        if not self.forward(messages):
            # not delivered: rewind to the first message of the batch and try again once reconnected
            self._rewind(messages)
            return
        if not any(m.error() is None for m in messages):
            return  # only error events (an unknown topic while it is created, ...): nothing to commit
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                # the commands were delivered; a failed commit only means they are delivered again (at least once)
                log.warning("downlink commit failed; the batch may be delivered again", error=str(exc))

    def _rewind(self, messages: list[Message]) -> None:
        first: dict[tuple[str, int], int] = {}
        for m in messages:
            if m.error() is None:
                key = (m.topic() or "", m.partition() or 0)
                first[key] = min(first.get(key, m.offset() or 0), m.offset() or 0)
        for (topic, partition), offset in first.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # partition revoked meanwhile: its next owner resends
                log.warning("downlink rewind failed", error=str(exc))
        time.sleep(0.5)

    def forward(self, messages: list[Message]) -> bool:
        """Publish every command of a batch at QoS 1 and wait for the broker's acknowledgements; True when every
        deliverable command was acknowledged (so the batch may be committed)."""
        now = time.time()
        pending: list[tuple[mqtt.MQTTMessageInfo, Command]] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("downlink consume error", error=str(err))
                continue
            cmd = self._command(msg)
            if cmd is None:
                continue
            if cmd.site != self.settings.site:
                COMMANDS.labels(**self.labels, outcome="other_site").inc()
                continue
            if cmd.dry_run:
                COMMANDS.labels(**self.labels, outcome="dry_run").inc()
                continue
            if cmd.valid_until_ts <= now:
                COMMANDS.labels(**self.labels, outcome="expired").inc()
                log.info("expired command not delivered", target=cmd.target, command=cmd.command_id)
                continue
            topic = command_topic(self.settings.site, cmd.target)
            info = self.client.publish(topic, msgspec.json.encode(cmd), qos=1)
            pending.append((info, cmd))
        delivered = True
        deadline = time.monotonic() + self.settings.downlink_ack_timeout_s
        for info, cmd in pending:
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
            except (RuntimeError, ValueError) as exc:  # not queued: the client is disconnected
                log.warning("command not published", target=cmd.target, error=str(exc))
            if info.is_published():
                COMMANDS.labels(**self.labels, outcome="delivered").inc()
            else:
                delivered = False
        if pending and delivered:
            log.info(
                "commands delivered", commands=[(c.target, c.kind.value, round(c.setpoint_kw, 3)) for _, c in pending]
            )
        return delivered

    def _command(self, msg: Message) -> Command | None:
        """The message's Command, or None after dead-lettering it with the reason."""
        reason = ""
        try:
            m = decode(msg.value() or b"")
        except InvalidMessage as exc:
            reason = f"invalid message: {exc}"
        else:
            if not isinstance(m, Command):
                reason = f"not a Command: {type(m).__name__}"
            elif not DEVICE.match(m.target):
                reason = f"target {m.target!r} is not a valid MQTT topic level"
            else:
                return m
        COMMANDS.labels(**self.labels, outcome="invalid").inc()
        log.warning("command dead-lettered", reason=reason, offset=msg.offset())
        kafka.dead_letter(self.producer, self.settings.topic("dlq"), msg, reason)
        return None
