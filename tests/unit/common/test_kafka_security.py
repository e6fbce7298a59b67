"""KafkaSecuritySettings -> librdkafka properties (security_config) and the settings' own validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from gridwatch.common import kafka
from gridwatch.common.settings import CommonSettings, KafkaSecuritySettings
from pydantic import ValidationError


def test_plaintext_by_default_adds_only_the_protocol() -> None:
    assert kafka.security_config(KafkaSecuritySettings()) == {"security.protocol": "plaintext"}


def test_sasl_ssl_maps_every_setting(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_text("pem")
    sec = KafkaSecuritySettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="plant",
        kafka_sasl_password="pw",
        kafka_ssl_ca_location=str(files["ca"]),
        kafka_ssl_certificate_location=str(files["cert"]),
        kafka_ssl_key_location=str(files["key"]),
        kafka_ssl_key_password="kp",
        kafka_ssl_verify_hostname=False,
    )
    assert kafka.security_config(sec) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "plant",
        "sasl.password": "pw",
        "ssl.ca.location": str(files["ca"]),
        "ssl.certificate.location": str(files["cert"]),
        "ssl.key.location": str(files["key"]),
        "ssl.key.password": "kp",
        "ssl.endpoint.identification.algorithm": "none",
    }


def test_sasl_plaintext_sets_no_tls_properties() -> None:
    sec = KafkaSecuritySettings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p"
    )
    assert not [k for k in kafka.security_config(sec) if k.startswith("ssl.")]


def test_the_builders_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("GRIDWATCH_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("GRIDWATCH_KAFKA_SASL_USERNAME", "env-user")
    monkeypatch.setenv("GRIDWATCH_KAFKA_SASL_PASSWORD", "env-pw")
    for config in (
        kafka.producer_config("b:9093", "p"),
        kafka.consumer_config("b:9093", "g", "c"),
        kafka.client_config("b:9093"),
    ):
        assert config["security.protocol"] == "sasl_ssl"
        assert config["sasl.mechanism"] == "PLAIN" and config["sasl.username"] == "env-user"
    assert CommonSettings().kafka_sasl_password.get_secret_value() == "env-pw"


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "GRIDWATCH_KAFKA_SASL_USERNAME"),
        ({"kafka_ssl_certificate_location": "/etc/hosts"}, "GRIDWATCH_KAFKA_SSL_KEY_LOCATION"),
        ({"kafka_ssl_ca_location": "/no/such/ca.pem"}, "GRIDWATCH_KAFKA_SSL_CA_LOCATION=/no/such/ca.pem"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_inconsistent_settings_name_the_variable(fields: dict[str, str], names: str) -> None:
    with pytest.raises(ValidationError, match=names):
        KafkaSecuritySettings(**fields)  # type: ignore[arg-type]


def test_error_cb_raises_only_for_refused_credentials_and_keeps_the_callers() -> None:
    seen: list[int] = []
    config = kafka.consumer_config("b:9093", "g", "c", error_cb=lambda err: seen.append(err.code()))
    on_error = config["error_cb"]
    on_error(KafkaError(KafkaError._TRANSPORT, "broker down"))
    with pytest.raises(kafka.KafkaAuthenticationError, match="invalid credentials"):
        on_error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: invalid credentials"))
    with pytest.raises(kafka.KafkaAuthenticationError, match="certificate verify failed"):
        on_error(KafkaError(KafkaError._SSL, "SSL handshake failed: certificate verify failed"))
    assert seen == [KafkaError._TRANSPORT, KafkaError._AUTHENTICATION, KafkaError._SSL]
