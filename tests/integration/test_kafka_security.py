"""Kafka over SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) on a real broker: clients built by common/kafka.py
from settings, the workloads end to end, and refused credentials or certificates failing clearly, not hanging."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer
from gridwatch.common import kafka
from gridwatch.common.rediskeys import Keys
from gridwatch.common.settings import CommonSettings
from gridwatch.local.kafka import Kafka, SaslSslListener

from tests.utils.tls import TlsFiles, make_tls
from tests.utils.workloads import Workload, free_port, wait_for

SCRAM_USER, SCRAM_PASSWORD = "gridwatch-scram", "scram-" + uuid.uuid4().hex
PLAIN_USER, PLAIN_PASSWORD = "gridwatch-plain", "plain-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[Kafka]:
    """A broker whose SASL_SSL listener knows one SCRAM user (both SHA variants) and one PLAIN user."""
    listener = SaslSslListener(
        keystore=tls.server_keystore,
        scram_users={SCRAM_USER: SCRAM_PASSWORD},
        plain_users={PLAIN_USER: PLAIN_PASSWORD},
    )
    broker = Kafka(tmp_path_factory.mktemp("kafka-sasl"), sasl_ssl=listener)
    broker.start()
    yield broker
    broker.stop()


def secure_env(broker: Kafka, tls: TlsFiles, mechanism: str, password: str | None = None) -> dict[str, str]:
    """The GRIDWATCH_KAFKA_* variables a workload (or the chart) sets for the SASL_SSL listener."""
    plain = mechanism == "PLAIN"
    return {
        "GRIDWATCH_KAFKA_BOOTSTRAP": broker.secure_bootstrap,
        "GRIDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "GRIDWATCH_KAFKA_SASL_MECHANISM": mechanism,
        "GRIDWATCH_KAFKA_SASL_USERNAME": PLAIN_USER if plain else SCRAM_USER,
        "GRIDWATCH_KAFKA_SASL_PASSWORD": password or (PLAIN_PASSWORD if plain else SCRAM_PASSWORD),
        "GRIDWATCH_KAFKA_SSL_CA_LOCATION": str(tls.ca),
    }


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CommonSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CommonSettings()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_producer_and_consumer_from_settings_round_trip(
    secure_kafka: Kafka, tls: TlsFiles, mechanism: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(secure_env(secure_kafka, tls, mechanism), monkeypatch)
    topic = f"sec-{mechanism.lower()}-{uuid.uuid4().hex[:6]}"
    assert kafka.ensure_topics(settings.kafka_bootstrap, [topic], 2, security=settings) == {topic: "created"}
    producer = Producer(kafka.producer_config(settings.kafka_bootstrap, "sec-test", settings))
    sent = [f"reading-{i}".encode() for i in range(50)]
    for value in sent:
        kafka.produce(producer, topic, value, key=value)
    assert producer.flush(30) == 0
    consumer = Consumer(kafka.consumer_config(settings.kafka_bootstrap, f"{topic}.g", "sec-test", settings))
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < len(sent) and time.monotonic() < deadline:
            got += [m.value() or b"" for m in consumer.consume(100, 1.0) if m.error() is None]
    finally:
        consumer.close()
    assert sorted(got) == sorted(sent)


def test_settings_from_the_environment_reach_every_client(
    secure_kafka: Kafka, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an explicit `security`, the config builders read GRIDWATCH_KAFKA_* (what the workloads rely on)."""
    env = secure_env(secure_kafka, tls, "SCRAM-SHA-512")
    settings_from(env, monkeypatch)
    topic = f"sec-env-{uuid.uuid4().hex[:6]}"
    assert kafka.ensure_topics(env["GRIDWATCH_KAFKA_BOOTSTRAP"], [topic], 1) == {topic: "created"}
    producer = Producer(kafka.producer_config(env["GRIDWATCH_KAFKA_BOOTSTRAP"], "sec-env"))
    kafka.produce(producer, topic, b"x")
    assert producer.flush(30) == 0


def test_wrong_password_fails_clearly(secure_kafka: Kafka, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(secure_env(secure_kafka, tls, "SCRAM-SHA-512", password="not-the-password"), monkeypatch)
    with pytest.raises(kafka.KafkaAuthenticationError, match="invalid credentials"):
        kafka.ensure_topics(settings.kafka_bootstrap, ["never"], 1, security=settings, timeout=60)
    producer = Producer(kafka.producer_config(settings.kafka_bootstrap, "sec-bad", settings))
    kafka.produce(producer, "never", b"x")
    with pytest.raises(kafka.KafkaAuthenticationError, match="SASL authentication"):
        producer.flush(10)
    consumer = Consumer(kafka.consumer_config(settings.kafka_bootstrap, "sec-bad.g", "sec-bad", settings))
    consumer.subscribe(["never"])
    try:
        with pytest.raises(kafka.KafkaAuthenticationError, match="SCRAM-SHA-512"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                consumer.consume(10, 1.0)
    finally:
        consumer.close()


def test_untrusted_broker_certificate_fails_clearly(
    secure_kafka: Kafka, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**secure_env(secure_kafka, tls, "SCRAM-SHA-512"), "GRIDWATCH_KAFKA_SSL_CA_LOCATION": str(tls.other_ca)}
    settings = settings_from(env, monkeypatch)
    with pytest.raises(kafka.KafkaAuthenticationError, match="certificate verify failed"):
        kafka.ensure_topics(settings.kafka_bootstrap, ["never"], 1, security=settings, timeout=60)


def test_simulator_and_processor_run_over_sasl_ssl(
    secure_kafka: Kafka, tls: TlsFiles, redis_server: object, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    """Two workloads (a plain producer and the common consumer loop) from nothing but their env, end to end."""
    sensors, ticks = 60, 20
    env = {
        **secure_env(secure_kafka, tls, "SCRAM-SHA-256"),
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,  # type: ignore[attr-defined]
        "GRIDWATCH_PARTITIONS": "2",
    }
    sim = Workload(
        "simulator",
        {
            **env,
            "GRIDWATCH_SIM_SENSORS": str(sensors),
            "GRIDWATCH_SIM_RATE": "5000",
            "GRIDWATCH_SIM_MAX_TICKS": str(ticks),
            "GRIDWATCH_METRICS_PORT": str(free_port()),
        },
        tmp_path,
    )
    proc = Workload("processor", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    proc.start()
    sim.start()
    try:
        wait_for(
            lambda: (
                int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) >= sensors * ticks
                or not proc.alive()
            ),
            300,  # generous: a loaded 2-core machine takes long to start the workloads
            "every reading scored in Redis",
            logs=(sim, proc),
        )
        assert proc.alive(), proc.log()[-3000:]
        assert sim.wait(60) == 0, sim.log()[-3000:]
        assert int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) == sensors * ticks
    finally:
        sim.stop()
        proc.stop()


def test_processor_with_a_wrong_password_exits_with_the_reason(
    secure_kafka: Kafka, tls: TlsFiles, redis_server: object, site: str, tmp_path: Path
) -> None:
    env = {
        **secure_env(secure_kafka, tls, "SCRAM-SHA-512", password="wrong"),
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,  # type: ignore[attr-defined]
        "GRIDWATCH_METRICS_PORT": str(free_port()),
    }
    proc = Workload("processor", env, tmp_path).start()
    try:
        code = proc.wait(300)  # a bound, not a timing assertion (load)
    finally:
        proc.stop()
    assert code != 0
    print(proc.log()[-1500:])
    assert "invalid credentials" in proc.log()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_the_operators_admin_client_authenticates_from_the_sites_secrets(
    secure_kafka: Kafka, tls: TlsFiles, mechanism: str
) -> None:
    """The operator creates the site's topics and reads its lag over SASL_SSL, with the CA and the password taken
    from the Secrets spec.kafka references (here a reader returning their base64 data, as the API server does)."""
    import base64

    from gridwatch_operator.kafkaauth import target
    from gridwatch_operator.topics import Kafka as OperatorKafka
    from gridwatch_operator.topics import TopicsError

    plain = mechanism == "PLAIN"
    secrets = {
        ("plant", "kafka-ca"): {"ca.crt": base64.b64encode(Path(tls.ca).read_bytes()).decode()},
        ("plant", "kafka-user"): {
            "password": base64.b64encode((PLAIN_PASSWORD if plain else SCRAM_PASSWORD).encode()).decode()
        },
        ("plant", "wrong"): {"password": base64.b64encode(b"nope").decode()},
    }
    sasl = {"mechanism": mechanism, "username": PLAIN_USER if plain else SCRAM_USER}
    spec = {
        "tls": {"enabled": True, "caSecretRef": {"name": "kafka-ca"}},
        "sasl": {**sasl, "passwordSecretRef": {"name": "kafka-user"}},
    }
    ops = OperatorKafka(timeout=20)
    where = target(secure_kafka.secure_bootstrap, spec, "plant", lambda ns, name: secrets[(ns, name)])
    topic = f"op-{mechanism.lower()}-{uuid.uuid4().hex[:6]}"
    outcome = ops.ensure_topics(where, [topic], 2, 1)
    assert outcome.topics == {topic: "created"}
    assert ops.partitions(where, topic) == 2
    assert ops.lag(where, f"{topic}.processor", topic).messages == 0
    bad = {**spec, "sasl": {**sasl, "passwordSecretRef": {"name": "wrong"}}}
    refused = target(secure_kafka.secure_bootstrap, bad, "plant", lambda ns, name: secrets[(ns, name)])
    with pytest.raises(TopicsError):
        OperatorKafka(timeout=10).ensure_topics(refused, [topic + "-never"], 1, 1)
    with pytest.raises(TopicsError):  # PLAINTEXT against the SASL_SSL listener: not authenticated, nothing done
        OperatorKafka(timeout=10).ensure_topics(secure_kafka.secure_bootstrap, [topic + "-plain"], 1, 1)
