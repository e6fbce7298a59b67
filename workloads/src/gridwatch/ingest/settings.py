"""Ingest settings, read from GRIDWATCH_INGEST_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from gridwatch.common.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Where the HTTP endpoint listens, whose tokens it accepts, and which MQTT broker it bridges."""

    host: str = Field(default="0.0.0.0", alias="GRIDWATCH_INGEST_HOST")
    port: int = Field(default=8010, ge=0, le=65535, alias="GRIDWATCH_INGEST_PORT")
    tokens_file: Path | None = Field(
        default=None,
        alias="GRIDWATCH_INGEST_TOKENS_FILE",
        description="Lines '<gateway> sha256:<hex>' (a mounted Secret); re-read when it changes.",
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, alias="GRIDWATCH_INGEST_MAX_BODY_BYTES")
    max_inflight_messages: int = Field(
        default=2000,
        ge=1,
        alias="GRIDWATCH_INGEST_MAX_INFLIGHT_MESSAGES",
        description="Kafka messages awaiting delivery above which requests get 429.",
    )
    ack_timeout_s: float = Field(
        default=15.0, gt=0, alias="GRIDWATCH_INGEST_ACK_TIMEOUT_S", description="Longest wait for Kafka's ack."
    )
    max_readings_per_message: int = Field(default=20_000, ge=1, alias="GRIDWATCH_INGEST_MAX_READINGS_PER_MESSAGE")
    heartbeat_interval_s: float = Field(default=2.0, gt=0, alias="GRIDWATCH_INGEST_HEARTBEAT_INTERVAL_S")
    gateway_timeout_s: float = Field(
        default=30.0,
        gt=0,
        alias="GRIDWATCH_INGEST_GATEWAY_TIMEOUT_S",
        description="A gateway silent this long gets no more heartbeats, so it shows as down.",
    )
    http_enabled: bool = Field(default=True, alias="GRIDWATCH_INGEST_HTTP_ENABLED")
    mqtt_enabled: bool = Field(default=False, alias="GRIDWATCH_INGEST_MQTT_ENABLED")
    mqtt_host: str = Field(default="127.0.0.1", alias="GRIDWATCH_INGEST_MQTT_HOST")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, alias="GRIDWATCH_INGEST_MQTT_PORT")
    mqtt_username: str = Field(default="", alias="GRIDWATCH_INGEST_MQTT_USERNAME")
    mqtt_password: SecretStr = Field(default=SecretStr(""), alias="GRIDWATCH_INGEST_MQTT_PASSWORD")
    mqtt_client_id: str = Field(
        default="",
        alias="GRIDWATCH_INGEST_MQTT_CLIENT_ID",
        description="Persistent session id; default gridwatch-ingest-<site>.",
    )
    mqtt_tls: bool = Field(default=False, alias="GRIDWATCH_INGEST_MQTT_TLS")
    mqtt_ca_file: Path | None = Field(default=None, alias="GRIDWATCH_INGEST_MQTT_CA_FILE")
    mqtt_cert_file: Path | None = Field(default=None, alias="GRIDWATCH_INGEST_MQTT_CERT_FILE")
    mqtt_key_file: Path | None = Field(default=None, alias="GRIDWATCH_INGEST_MQTT_KEY_FILE")
    mqtt_max_inflight: int = Field(default=1000, ge=1, le=65535, alias="GRIDWATCH_INGEST_MQTT_MAX_INFLIGHT")
    mqtt_batch_messages: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        alias="GRIDWATCH_INGEST_MQTT_BATCH_MESSAGES",
        description="Most MQTT messages coalesced into one Kafka submission per gateway.",
    )
    mqtt_batch_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        alias="GRIDWATCH_INGEST_MQTT_BATCH_WAIT_MS",
        description="How long the first message of a batch waits for others before the batch is submitted.",
    )
    downlink_enabled: bool = Field(
        default=True,
        alias="GRIDWATCH_INGEST_DOWNLINK_ENABLED",
        description="With the MQTT bridge: deliver <prefix>.commands to gridwatch/<site>/<device>/commands.",
    )
    downlink_group_id: str = Field(
        default="", alias="GRIDWATCH_INGEST_DOWNLINK_GROUP", description="Default <prefix>.ingest-downlink."
    )
    downlink_ack_timeout_s: float = Field(
        default=10.0,
        gt=0,
        alias="GRIDWATCH_INGEST_DOWNLINK_ACK_TIMEOUT_S",
        description="Longest wait for the broker's PUBACKs of a batch; past it the batch is sent again.",
    )

    @property
    def mqtt_session(self) -> str:
        """MQTT client id of the bridge's persistent session."""
        return self.mqtt_client_id or f"gridwatch-ingest-{self.site}"

    @property
    def mqtt_topic(self) -> str:
        """Subscription filter: every gateway of this site."""
        return f"gridwatch/{self.site}/+/telemetry"

    @property
    def downlink_group(self) -> str:
        """Consumer group of the downlink on `<prefix>.commands`."""
        return self.downlink_group_id or f"{self.prefix}.ingest-downlink"

    @property
    def downlink_client_id(self) -> str:
        """MQTT client id of the downlink (its own clean session, beside the bridge's)."""
        return f"{self.mqtt_session}-downlink"
