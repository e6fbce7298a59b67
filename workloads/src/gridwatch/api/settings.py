"""API settings, read from GRIDWATCH_API_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from gridwatch.common.settings import CommonSettings


class ApiSettings(CommonSettings):
    """Where the API listens, how often it pushes, and who may write."""

    host: str = Field(default="127.0.0.1", alias="GRIDWATCH_API_HOST")
    port: int = Field(default=8000, ge=0, le=65535, alias="GRIDWATCH_API_PORT")
    ws_update_interval_s: float = Field(default=2.0, gt=0, le=60, alias="GRIDWATCH_API_WS_UPDATE_INTERVAL_S")
    ws_snapshot_limit: int = Field(default=1000, ge=0, le=100_000, alias="GRIDWATCH_API_WS_SNAPSHOT_LIMIT")
    producer_timeout_s: float = Field(default=10.0, gt=0, alias="GRIDWATCH_API_PRODUCER_TIMEOUT_S")
    token: SecretStr = Field(
        default=SecretStr(""),
        alias="GRIDWATCH_API_TOKEN",
        description="Bearer token for write endpoints; empty disables writes.",
    )
    static_dir: Path | None = Field(
        default=None, alias="GRIDWATCH_API_STATIC_DIR", description="Built web UI to serve at /"
    )
    cors_origins: list[str] = Field(default=[], alias="GRIDWATCH_API_CORS_ORIGINS")
