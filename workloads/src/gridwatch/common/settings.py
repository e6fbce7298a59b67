"""Environment-driven settings shared by every workload (prefix GRIDWATCH_)."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridwatch.common.sitetime import SiteZone


class CommonSettings(BaseSettings):
    """Connection and identity settings every workload reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore", populate_by_name=True)

    site: str = Field(default="local", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=53)
    timezone: SiteZone = Field(
        default="UTC",
        description="The site's IANA time zone (spec.timezone): tariff hours, billing windows, history days.",
    )
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", description="Topic prefix; defaults to the site name.")
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=5)
    redis_url: str = "redis://127.0.0.1:6379/0"
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
