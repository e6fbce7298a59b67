"""Grid ingestor settings, read from GRIDWATCH_GRID_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from gridwatch.common.settings import CommonSettings


class Source(BaseModel):
    """One polled API: which adapter reads it, where, how often."""

    name: str = Field(pattern=r"^[a-z0-9][-a-z0-9]{0,62}$")
    adapter: Literal["gb-carbon-intensity", "entsoe"]
    url: str = Field(description="Base URL, e.g. https://api.carbonintensity.org.uk or https://web-api.tp.entsoe.eu")
    interval_s: float = Field(default=900.0, ge=1.0)
    region: str = Field(default="GB", description="GB for the Carbon Intensity API; an EIC area code for ENTSO-E")
    token: SecretStr = Field(default=SecretStr(""), description="ENTSO-E securityToken")
    document_types: list[Literal["A44", "A65"]] = Field(
        default=["A44", "A65"], description="ENTSO-E: A44 day-ahead prices, A65 total load"
    )


class GridSettings(CommonSettings):
    """Which grid APIs to poll, how to retry, and where the /stream control endpoint listens."""

    host: str = Field(default="0.0.0.0", alias="GRIDWATCH_GRID_HOST")
    port: int = Field(default=8020, ge=0, le=65535, alias="GRIDWATCH_GRID_PORT")
    sources: list[Source] = Field(default=[], alias="GRIDWATCH_GRID_SOURCES", description="JSON list of sources")
    autostart: bool = Field(default=False, alias="GRIDWATCH_GRID_AUTOSTART", description="Start streaming at boot")
    token: SecretStr = Field(
        default=SecretStr(""), alias="GRIDWATCH_GRID_TOKEN", description="Bearer token for POST/DELETE /stream"
    )
    timeout_s: float = Field(default=10.0, gt=0, alias="GRIDWATCH_GRID_TIMEOUT_S")
    max_retries: int = Field(default=4, ge=0, le=20, alias="GRIDWATCH_GRID_MAX_RETRIES")
    backoff_s: float = Field(default=1.0, gt=0, alias="GRIDWATCH_GRID_BACKOFF_S", description="First retry delay")
    backoff_max_s: float = Field(default=60.0, gt=0, alias="GRIDWATCH_GRID_BACKOFF_MAX_S")
