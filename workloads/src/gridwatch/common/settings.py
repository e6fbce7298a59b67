"""Environment-driven settings shared by every workload (prefix GRIDWATCH_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import quote

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridwatch.common.sitetime import SiteZone

KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaSecuritySettings(BaseSettings):
    """How every Kafka client authenticates and encrypts (GRIDWATCH_KAFKA_*); librdkafka's config is built from
    these in one place, gridwatch.common.kafka.security_config."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore", populate_by_name=True)

    kafka_security_protocol: KafkaProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)."
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str = Field(default="", description="SASL user name (required with SASL_*).")
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), description="SASL password (from a Secret).")
    kafka_ssl_ca_location: str = Field(
        default="", description="PEM CA bundle that signs the brokers' certificates; empty = the system store."
    )
    kafka_ssl_certificate_location: str = Field(default="", description="PEM client certificate (mutual TLS).")
    kafka_ssl_key_location: str = Field(default="", description="PEM private key of the client certificate.")
    kafka_ssl_key_password: SecretStr = Field(default=SecretStr(""), description="Password of an encrypted key.")
    kafka_ssl_verify_hostname: bool = Field(
        default=True, description="Check that the broker's certificate names the host connected to."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """SASL needs a user and a password; TLS files must exist; a client certificate needs its key."""
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(
                f"GRIDWATCH_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "GRIDWATCH_KAFKA_SASL_USERNAME and GRIDWATCH_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certificate_location) != bool(self.kafka_ssl_key_location):
            raise ValueError(
                "GRIDWATCH_KAFKA_SSL_CERTIFICATE_LOCATION and GRIDWATCH_KAFKA_SSL_KEY_LOCATION go together"
            )
        for name in ("kafka_ssl_ca_location", "kafka_ssl_certificate_location", "kafka_ssl_key_location"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"GRIDWATCH_{name.upper()}={path}: no such file")
        return self


class CommonSettings(KafkaSecuritySettings):
    """Connection and identity settings every workload reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore", populate_by_name=True)

    # The site's identity in shared Kafka, Redis and PostgreSQL: `<namespace>.<name>` on Kubernetes (the chart sets
    # it; same-named sites in two namespaces never share state), the bare name locally and for pre-existing sites.
    site: str = Field(
        default="local",
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=104,
        description="Site identity: topic prefix, consumer groups, Redis keys, PostgreSQL rows, metrics' site label.",
    )
    timezone: SiteZone = Field(
        default="UTC",
        description="The site's IANA time zone (spec.timezone): tariff hours, billing windows, history days.",
    )
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", description="Topic prefix; defaults to the site name.")
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=5)
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_username: str = Field(default="", description="Redis ACL user; empty = the default user.")
    redis_password: SecretStr = Field(default=SecretStr(""), description="Redis password (from a Secret).")
    state_ttl_seconds: int = Field(default=3600, ge=60)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    consumer_max_lost_s: float = Field(
        default=60.0, ge=5, le=3600, description="A consumer this long without a confirmed group exits non-zero."
    )
    postgres_dsn: str = Field(default="", description="PostgreSQL DSN of the site database; empty = parts below.")
    postgres_host: str = Field(default="", description="PostgreSQL host, used when postgres_dsn is empty.")
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_database: str = "gridwatch"
    postgres_user: str = "gridwatch"
    postgres_password: SecretStr = SecretStr("")
    postgres_sslmode: str = "prefer"

    @property
    def postgres_conninfo(self) -> str:
        """The PostgreSQL connection string in effect; empty when PostgreSQL is not configured."""
        if self.postgres_dsn or not self.postgres_host:
            return self.postgres_dsn
        password = self.postgres_password.get_secret_value()
        auth = quote(self.postgres_user, safe="") + (f":{quote(password, safe='')}" if password else "")
        return (
            f"postgresql://{auth}@{self.postgres_host}:{self.postgres_port}/"
            f"{quote(self.postgres_database, safe='')}?sslmode={self.postgres_sslmode}"
        )

    @property
    def prefix(self) -> str:
        """Topic prefix in effect (the site name unless set)."""
        return self.topic_prefix or self.site

    def topic(self, kind: str) -> str:
        """Full topic name for a kind: readings, enriched, alerts, forecasts, dispatch, dlq."""
        return f"{self.prefix}.{kind}"
