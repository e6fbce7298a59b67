"""The operator's own Kafka clients (topics, lag, data flow) authenticate like the site's workloads: TLS and SASL
(SCRAM-SHA-512/256, PLAIN) from the EnergySite's spec.kafka.tls / spec.kafka.sasl Secret references, read from the
site's namespace when needed and handed to librdkafka as in-memory PEM and password (never written to disk).

The same spec fields reach the workloads through the chart (mounted files and GRIDWATCH_KAFKA_*); here they become
the equivalent librdkafka properties, so the operator reaches exactly the brokers its sites do (docs/security.md).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from gridwatch_operator.topics import KafkaTarget, TopicsError

SecretReader = Callable[[str, str], Mapping[str, str]]
"""(namespace, name) -> the Secret's data, base64 as the API returns it; raises KeyError when it does not exist."""


class KafkaAuthError(TopicsError):
    """A referenced Secret or key is missing or unreadable: the site's Kafka cannot be reached as configured."""


def _value(read: SecretReader, namespace: str, ref: Mapping[str, Any], default_key: str, what: str) -> str:
    name, key = str(ref.get("name", "")), str(ref.get("key") or default_key)
    try:
        data = read(namespace, name)
    except KeyError:
        raise KafkaAuthError(f"Kafka {what}: Secret {namespace}/{name} not found") from None
    if key not in data:
        raise KafkaAuthError(f"Kafka {what}: Secret {namespace}/{name} has no key {key!r}")
    return base64.b64decode(data[key]).decode()


def security_config(kafka: Mapping[str, Any], namespace: str, read: SecretReader) -> dict[str, str]:
    """spec.kafka's tls and sasl as librdkafka properties ({} for PLAINTEXT), the Secrets read from `namespace`."""
    tls = kafka.get("tls") or {}
    sasl = kafka.get("sasl") or {}
    tls_on, sasl_on = bool(tls.get("enabled", False)), bool(sasl)
    if not tls_on and not sasl_on:
        return {}
    protocol = ("SASL_" if sasl_on else "") + ("SSL" if tls_on else "PLAINTEXT")
    config = {"security.protocol": protocol.lower()}
    if sasl_on:
        config["sasl.mechanism"] = str(sasl.get("mechanism", "SCRAM-SHA-512"))
        config["sasl.username"] = str(sasl.get("username", ""))
        config["sasl.password"] = _value(read, namespace, sasl.get("passwordSecretRef") or {}, "password", "SASL")
    if tls_on:
        if tls.get("caSecretRef"):
            config["ssl.ca.pem"] = _value(read, namespace, tls["caSecretRef"], "ca.crt", "TLS CA")
        client = tls.get("clientCertSecretRef") or {}
        if client.get("name"):
            ref = {"name": client["name"]}
            config["ssl.certificate.pem"] = _value(read, namespace, {**ref, "key": "tls.crt"}, "", "client certificate")
            config["ssl.key.pem"] = _value(read, namespace, {**ref, "key": "tls.key"}, "", "client key")
        config["ssl.endpoint.identification.algorithm"] = "https" if tls.get("verifyHostname", True) else "none"
    return config


def target(bootstrap: str, kafka: Mapping[str, Any], namespace: str, read: SecretReader) -> KafkaTarget:
    """The site's brokers together with how to authenticate to them."""
    return KafkaTarget(bootstrap, security_config(kafka, namespace, read))
