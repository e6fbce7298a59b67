"""Simulator settings, read from GRIDWATCH_SIM_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gridwatch.common.schema import SensorType
from gridwatch.common.settings import CommonSettings


class SimulatorSettings(CommonSettings):
    """How many sensors to simulate, how fast, and how often they fail."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore", populate_by_name=True)

    sensors: int = Field(default=300, ge=1, le=1_000_000, alias="GRIDWATCH_SIM_SENSORS")
    sample_interval_ms: int = Field(default=1000, ge=10, le=3_600_000, alias="GRIDWATCH_SIM_SAMPLE_INTERVAL_MS")
    rate: float = Field(
        default=0.0,
        ge=0.0,
        alias="GRIDWATCH_SIM_RATE",
        description="Target readings/s; 0 means sensors / sample interval (real time).",
    )
    anomaly_rate: float = Field(default=0.02, ge=0.0, le=0.5, alias="GRIDWATCH_SIM_ANOMALY_RATE")
    # NoDecode: the variable is read as text (comma-separated or a JSON list), not parsed as JSON before _split
    mix: Annotated[list[SensorType], NoDecode] = Field(
        default=list(SensorType), min_length=1, alias="GRIDWATCH_SIM_MIX"
    )
    seed: int = Field(default=42, alias="GRIDWATCH_SIM_SEED")
    sensors_per_gateway: int = Field(default=500, ge=1, le=20_000, alias="GRIDWATCH_SIM_SENSORS_PER_GATEWAY")
    start_time: datetime | None = Field(
        default=None,
        alias="GRIDWATCH_SIM_START_TIME",
        description="Virtual clock origin for the daily profile; default now. Fix it for reproducible runs.",
    )
    heartbeat_interval_s: float = Field(default=2.0, gt=0, alias="GRIDWATCH_SIM_HEARTBEAT_INTERVAL_S")
    max_ticks: int = Field(default=0, ge=0, alias="GRIDWATCH_SIM_MAX_TICKS", description="Stop after N ticks; 0 = run")
    producer_id: str = Field(default="simulator", alias="GRIDWATCH_SIM_PRODUCER_ID")

    @field_validator("mix", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [v.strip() for v in text.split(",") if v.strip()]
        return value

    @property
    def readings_per_second(self) -> float:
        """Wall-clock pace in effect."""
        return self.rate or self.sensors * 1000.0 / self.sample_interval_ms
