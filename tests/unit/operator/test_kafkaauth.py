"""The operator's Kafka clients authenticate from the EnergySite's Secret references, as the workloads do."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import pytest
from gridwatch_operator import site
from gridwatch_operator.kafkaauth import KafkaAuthError, security_config
from gridwatch_operator.spec import SiteSpec

from tests.unit.operator.fakes import Events, FakeKafka, runtime, site_spec


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRETS = {
    ("plant", "kafka-ca"): {"ca.crt": b64("-----BEGIN CERTIFICATE-----ca")},
    ("plant", "kafka-client"): {"tls.crt": b64("CERT"), "tls.key": b64("KEY")},
    ("plant", "kafka-user"): {"password": b64("s3cret"), "other": b64("x")},
}


def read(namespace: str, name: str) -> Mapping[str, str]:
    return SECRETS[(namespace, name)]


def test_scram_over_tls_with_a_client_certificate() -> None:
    spec = {
        "tls": {"enabled": True, "caSecretRef": {"name": "kafka-ca"}, "clientCertSecretRef": {"name": "kafka-client"},
                "verifyHostname": False},
        "sasl": {"mechanism": "SCRAM-SHA-256", "username": "plant", "passwordSecretRef": {"name": "kafka-user"}},
    }  # fmt: skip
    assert security_config(spec, "plant", read) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "plant",
        "sasl.password": "s3cret",
        "ssl.ca.pem": "-----BEGIN CERTIFICATE-----ca",
        "ssl.certificate.pem": "CERT",
        "ssl.key.pem": "KEY",
        "ssl.endpoint.identification.algorithm": "none",
    }


def test_plain_without_tls_tls_alone_and_plaintext() -> None:
    plain = {
        "sasl": {"mechanism": "PLAIN", "username": "u", "passwordSecretRef": {"name": "kafka-user", "key": "other"}}
    }
    assert security_config(plain, "plant", read) == {
        "security.protocol": "sasl_plaintext", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "x",
    }  # fmt: skip
    tls = security_config({"tls": {"enabled": True}}, "plant", read)
    assert tls == {"security.protocol": "ssl", "ssl.endpoint.identification.algorithm": "https"}  # system CAs
    assert security_config({}, "plant", read) == {}
    assert security_config({"tls": {"enabled": False}}, "plant", read) == {}


def test_a_missing_secret_or_key_is_named_and_secrets_are_read_in_the_sites_namespace() -> None:
    sasl = {"sasl": {"username": "u", "passwordSecretRef": {"name": "kafka-user", "key": "nope"}}}
    with pytest.raises(KafkaAuthError, match="Secret plant/kafka-user has no key 'nope'"):
        security_config(sasl, "plant", read)
    with pytest.raises(KafkaAuthError, match="Secret other/kafka-user not found"):
        security_config({"sasl": {"username": "u", "passwordSecretRef": {"name": "kafka-user"}}}, "other", read)


def test_reconcile_hands_the_credentials_to_every_kafka_call_and_reports_a_missing_secret() -> None:
    kafka = FakeKafka()
    rt = runtime(kafka=kafka)
    rt.secrets = read
    spec = site_spec()
    spec["kafka"] = {**spec["kafka"], "sasl": {"mechanism": "PLAIN", "username": "plant",
                                               "passwordSecretRef": {"name": "kafka-user"}}}  # fmt: skip
    parsed = SiteSpec.parse("north", spec, "plant")
    events = Events()
    assert site.ensure_topics(rt, parsed, events)["error"] is None
    bootstrap = kafka.created[0][0]
    assert bootstrap == "broker:9092" and bootstrap.security["sasl.password"] == "s3cret"  # type: ignore[attr-defined]
    site.measure_lag(rt, parsed, events.warn)
    assert kafka.lag_asked[0][0].security["sasl.username"] == "plant"  # type: ignore[attr-defined]
    lost = SiteSpec.parse("north", spec, "elsewhere")  # the Secret lives in the site's namespace only
    status = site.ensure_topics(rt, lost, events)
    assert "Secret elsewhere/kafka-user not found" in status["error"] and "KafkaFailed" in events.reasons()
