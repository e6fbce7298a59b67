"""Replay settings, read from GRIDWATCH_REPLAY_* (the command's options override them)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReplaySettings(BaseSettings):
    """Which ingest endpoint to replay into, with whose gateway token."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_REPLAY_", extra="ignore")

    url: str = Field(default="http://127.0.0.1:8010", description="Base URL of `gridwatch ingest`.")
    token: SecretStr = Field(default=SecretStr(""), description="The replaying gateway's bearer token.")
