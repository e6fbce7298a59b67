"""History writer settings, read from GRIDWATCH_HISTORY_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from pydantic import Field

from gridwatch.common.settings import CommonSettings


class HistorySettings(CommonSettings):
    """Batching, partitions and retention of the one-minute rollups."""

    group: str = Field(
        default="", alias="GRIDWATCH_HISTORY_GROUP", description="Consumer group; default <prefix>.history"
    )
    batch_max_messages: int = Field(default=500, ge=1, le=100_000, alias="GRIDWATCH_HISTORY_BATCH_MAX_MESSAGES")
    batch_max_bytes: int = Field(
        default=16 * 2**20,
        ge=0,
        alias="GRIDWATCH_HISTORY_BATCH_MAX_BYTES",
        description="Packed payload per write, about (0: no limit); bounds the writer's memory on a backlog.",
    )
    poll_timeout_s: float = Field(default=0.5, gt=0, le=10, alias="GRIDWATCH_HISTORY_POLL_TIMEOUT_S")
    flush_interval_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        alias="GRIDWATCH_HISTORY_FLUSH_INTERVAL_S",
        description="How long to keep collecting after the first message of a write (merges readings per row).",
    )
    retention_days: int = Field(default=30, ge=1, le=3650, alias="GRIDWATCH_HISTORY_RETENTION_DAYS")
    partitions_ahead_days: int = Field(default=2, ge=1, le=60, alias="GRIDWATCH_HISTORY_PARTITIONS_AHEAD_DAYS")
    maintenance_interval_s: float = Field(default=3600.0, gt=0, alias="GRIDWATCH_HISTORY_MAINTENANCE_INTERVAL_S")

    @property
    def consumer_group(self) -> str:
        """Consumer group in effect."""
        return self.group or f"{self.prefix}.history"
