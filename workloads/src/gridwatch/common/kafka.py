"""Kafka helpers: topic creation, producer and consumer configuration, dead-letter publishing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewPartitions,
    NewTopic,
)

from gridwatch.common import schema
from gridwatch.common.settings import CommonSettings, KafkaSecuritySettings

TOPIC_KINDS = ("readings", "enriched", "alerts", "forecasts", "dispatch", "dlq")
log = structlog.get_logger(__name__)
# librdkafka's own log lines go through stdlib logging, so they come out as JSON like everything else
RDKAFKA_LOGGER = logging.getLogger("rdkafka")
# Client errors that retrying cannot fix: the credentials or the certificates are wrong
FATAL_CLIENT_ERRORS = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})


class KafkaAuthenticationError(RuntimeError):
    """The broker refused this client's credentials or TLS handshake; retrying will not help."""


def security_config(security: KafkaSecuritySettings | None = None) -> dict[str, Any]:
    """The librdkafka security properties (TLS, SASL) of every Gridwatch Kafka client: the one place they are built.

    `None` reads them from the environment (GRIDWATCH_KAFKA_SECURITY_PROTOCOL, ..._SASL_*, ..._SSL_*).
    """
    sec = security if security is not None else KafkaSecuritySettings()
    protocol = sec.kafka_security_protocol
    config: dict[str, Any] = {"security.protocol": protocol.lower()}
    if protocol.startswith("SASL_"):
        config["sasl.mechanism"] = sec.kafka_sasl_mechanism
        config["sasl.username"] = sec.kafka_sasl_username
        config["sasl.password"] = sec.kafka_sasl_password.get_secret_value()
    if protocol in ("SSL", "SASL_SSL"):
        if sec.kafka_ssl_ca_location:
            config["ssl.ca.location"] = sec.kafka_ssl_ca_location
        if sec.kafka_ssl_certificate_location:
            config["ssl.certificate.location"] = sec.kafka_ssl_certificate_location
            config["ssl.key.location"] = sec.kafka_ssl_key_location
        if sec.kafka_ssl_key_password.get_secret_value():
            config["ssl.key.password"] = sec.kafka_ssl_key_password.get_secret_value()
        config["ssl.endpoint.identification.algorithm"] = "https" if sec.kafka_ssl_verify_hostname else "none"
    return config


def _fatal_error_cb(chained: Callable[[KafkaError], None] | None) -> Callable[[KafkaError], None]:
    """An error_cb that raises KafkaAuthenticationError (out of poll/consume/flush) when the broker refuses us.

    librdkafka retries a refused login forever; raising turns it into a clear, non-zero exit that the
    supervisor (or Kubernetes) reports instead of a client that silently never connects.
    """

    def on_error(err: KafkaError) -> None:
        if chained is not None:
            chained(err)
        if err.code() in FATAL_CLIENT_ERRORS or (err.code() == KafkaError._SSL and "verify failed" in err.str()):
            raise KafkaAuthenticationError(f"Kafka refused the connection: {err.str()}")

    return on_error


def client_config(bootstrap: str, security: KafkaSecuritySettings | None = None, /, **extra: Any) -> dict[str, Any]:
    """bootstrap.servers, the security properties and our logger: the base of every client's config."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, **security_config(security), "logger": RDKAFKA_LOGGER}
    config.update(extra)
    config["error_cb"] = _fatal_error_cb(extra.get("error_cb"))
    return config


def ensure_site_topics(settings: CommonSettings) -> dict[str, str]:
    """Create (or raise the partitions of) every topic of the site, as the settings ask."""
    return ensure_topics(
        settings.kafka_bootstrap,
        [settings.topic(kind) for kind in TOPIC_KINDS],
        settings.partitions,
        settings.replication_factor,
        security=settings,
    )


def decoded(
    messages: Iterable[Message], dead_letter: Callable[[Message, str], None]
) -> Iterator[tuple[Message, schema.Message]]:
    """The decodable messages of a consumed batch; consume errors are logged and skipped (partition EOF silently),
    and undecodable messages are handed to `dead_letter` with the reason."""
    for msg in messages:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", error=str(err))
            continue
        try:
            yield msg, schema.decode(msg.value() or b"")
        except schema.InvalidMessage as exc:
            dead_letter(msg, f"invalid message: {exc}")


def producer_config(
    bootstrap: str, client_id: str, security: KafkaSecuritySettings | None = None, /, **extra: Any
) -> dict[str, Any]:
    """Idempotent, acks=all producer tuned for batched throughput (security from `security`, else the env)."""
    config: dict[str, Any] = {
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "batch.size": 1_000_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        "message.max.bytes": 4_000_000,
    }
    config.update(extra)
    return client_config(bootstrap, security, **config)


def consumer_config(
    bootstrap: str, group: str, client_id: str, security: KafkaSecuritySettings | None = None, /, **extra: Any
) -> dict[str, Any]:
    """At-least-once consumer: manual commits, cooperative-sticky assignment (security as in producer_config)."""
    config: dict[str, Any] = {
        "group.id": group,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.max.bytes": 16_000_000,
        "max.partition.fetch.bytes": 4_000_000,
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
    }
    config.update(extra)
    return client_config(bootstrap, security, **config)


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout: float = 30.0,
    security: KafkaSecuritySettings | None = None,
) -> dict[str, str]:
    """Create missing topics and raise partition counts (never lower them).

    Returns a map topic -> what happened ("created", "exists", "raised from N", "kept N > asked").
    Raises KafkaAuthenticationError at once when the broker refuses the credentials.
    """
    admin = AdminClient(client_config(bootstrap, security))
    deadline = time.monotonic() + timeout
    wanted = list(names)
    while True:
        try:
            metadata = admin.list_topics(timeout=5)
            break
        except KafkaException:
            admin.poll(0)  # serves error_cb: raises KafkaAuthenticationError when the login was refused
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    outcome: dict[str, str] = {}
    missing = [n for n in wanted if n not in metadata.topics or metadata.topics[n].error is not None]
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in missing]
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                outcome[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                outcome[name] = "exists"
    raise_to: list[NewPartitions] = []
    for name in wanted:
        if name in outcome or name not in metadata.topics:
            continue
        current = len(metadata.topics[name].partitions)
        if current < partitions:
            raise_to.append(NewPartitions(name, partitions))
            outcome[name] = f"raised from {current}"
        elif current > partitions:
            outcome[name] = f"kept {current} > {partitions} (partitions are never lowered)"
        else:
            outcome[name] = "exists"
    if raise_to:
        for future in admin.create_partitions(raise_to).values():
            future.result(timeout=timeout)
    return outcome


class DeliveryTracker:
    """Counts delivery failures reported by the producer's delivery callbacks."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.last_error: str | None = None

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.last_error = str(err)
            log.warning("delivery failed", topic=msg.topic(), error=str(err))


def produce(producer: Producer, topic: str, value: bytes, key: bytes | None = None, **kwargs: Any) -> None:
    """Produce, serving callbacks and waiting for room when the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, **kwargs)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)


def dead_letter(producer: Producer, dlq_topic: str, msg: Message, reason: str, value: bytes | None = None) -> None:
    """Send a message that could not be processed to the DLQ, with the reason and its origin.

    `value` replaces the payload when only part of the message is dead-lettered (e.g. its implausible readings).
    """
    headers = [
        ("gridwatch.dlq.reason", reason.encode()[:4000]),
        ("gridwatch.dlq.topic", (msg.topic() or "").encode()),
        ("gridwatch.dlq.partition", str(msg.partition()).encode()),
        ("gridwatch.dlq.offset", str(msg.offset()).encode()),
        ("gridwatch.dlq.timestamp", str(msg.timestamp()[1]).encode()),
    ]
    payload = (msg.value() or b"") if value is None else value
    produce(producer, dlq_topic, payload, msg.key(), headers=headers)
