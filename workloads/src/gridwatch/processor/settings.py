"""Processor settings, read from GRIDWATCH_PROC_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gridwatch.common.scoring import ScoringConfig
from gridwatch.common.settings import CommonSettings

# The scorer's defaults live in ScoringConfig alone; these settings only expose them as GRIDWATCH_PROC_* variables.
_SCORING = ScoringConfig()


class ProcessorSettings(CommonSettings):
    """Batching, scoring thresholds and failure-probability parameters."""

    batch_max_messages: int = Field(default=500, ge=1, le=100_000, alias="GRIDWATCH_PROC_BATCH_MAX_MESSAGES")
    poll_timeout_s: float = Field(default=0.05, gt=0, le=10, alias="GRIDWATCH_PROC_POLL_TIMEOUT_S")
    group: str = Field(
        default="", alias="GRIDWATCH_PROC_GROUP", description="Consumer group; default <prefix>.processor"
    )
    warmup: int = Field(default=_SCORING.warmup, ge=2, alias="GRIDWATCH_PROC_WARMUP")
    level_readings: float = Field(default=_SCORING.level_readings, ge=1, alias="GRIDWATCH_PROC_LEVEL_READINGS")
    history_readings: float = Field(default=_SCORING.history_readings, ge=10, alias="GRIDWATCH_PROC_HISTORY_READINGS")
    shift_readings: int = Field(default=_SCORING.shift_readings, ge=2, alias="GRIDWATCH_PROC_SHIFT_READINGS")
    z_screen: float = Field(default=_SCORING.z_screen, gt=0, alias="GRIDWATCH_PROC_Z_SCREEN")
    z_anomaly: float = Field(default=_SCORING.z_anomaly, gt=0, le=50, alias="GRIDWATCH_PROC_Z_ANOMALY")
    alarm_gap: int = Field(default=_SCORING.alarm_gap, ge=0, le=100_000, alias="GRIDWATCH_PROC_ALARM_GAP_READINGS")
    hazard_weight: float = Field(default=_SCORING.hazard_weight, gt=0, alias="GRIDWATCH_PROC_HAZARD_WEIGHT")
    hazard_readings: float = Field(default=_SCORING.hazard_readings, gt=0, alias="GRIDWATCH_PROC_HAZARD_READINGS")
    recovery_readings: float = Field(
        default=_SCORING.recovery_readings, gt=0, alias="GRIDWATCH_PROC_HAZARD_RECOVERY_READINGS"
    )
    warning_probability: float = Field(
        default=_SCORING.warning_probability, gt=0, lt=1, alias="GRIDWATCH_PROC_WARNING_PROBABILITY"
    )
    critical_probability: float = Field(
        default=_SCORING.critical_probability, gt=0, lt=1, alias="GRIDWATCH_PROC_CRITICAL_PROBABILITY"
    )
    forest: bool | Literal["auto"] = Field(
        default="auto",
        alias="GRIDWATCH_PROC_FOREST",
        description=(
            "The second-stage Isolation Forest. auto: serve the trainer's promoted detector from the model registry"
            " when PostgreSQL is configured (statistical scoring alone until one is promoted, and without"
            " PostgreSQL); true: also fit one in the replica when there is no registry; false: never a forest."
        ),
    )
    forest_trees: int = Field(default=_SCORING.forest_trees, ge=10, le=1000, alias="GRIDWATCH_PROC_FOREST_TREES")
    forest_train_rows: int = Field(default=_SCORING.forest_train_rows, ge=256, alias="GRIDWATCH_PROC_FOREST_TRAIN_ROWS")
    forest_retrain_rows: int = Field(
        default=_SCORING.forest_retrain_rows, ge=1000, alias="GRIDWATCH_PROC_FOREST_RETRAIN_ROWS"
    )
    model_poll_s: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        alias="GRIDWATCH_PROC_MODEL_POLL_S",
        description="How often the registry is checked for a promoted detector besides the Redis notices.",
    )
    publish_enriched: bool = Field(default=True, alias="GRIDWATCH_PROC_PUBLISH_ENRICHED")

    @property
    def registry_detector(self) -> bool:
        """The replica serves the detector the trainer promotes in the registry (PostgreSQL), never fitting one."""
        return self.forest is not False and bool(self.postgres_conninfo)

    def scoring_config(self, *, registry: bool | None = None) -> ScoringConfig:
        """The scorer's parameters from these settings (the processor and `gridwatch detect` both use this).

        The forest stage is on when the forest is served from the registry (`registry`, by default whether
        `registry_detector`) or explicitly fitted in the replica (GRIDWATCH_PROC_FOREST=true).
        """
        from_registry = self.registry_detector if registry is None else registry
        return ScoringConfig(
            warmup=self.warmup,
            level_readings=self.level_readings,
            history_readings=self.history_readings,
            shift_readings=self.shift_readings,
            z_screen=self.z_screen,
            z_anomaly=self.z_anomaly,
            alarm_gap=self.alarm_gap,
            hazard_weight=self.hazard_weight,
            hazard_readings=self.hazard_readings,
            recovery_readings=self.recovery_readings,
            warning_probability=self.warning_probability,
            critical_probability=self.critical_probability,
            forest=self.forest is True or from_registry,
            forest_trees=self.forest_trees,
            forest_train_rows=self.forest_train_rows,
            forest_retrain_rows=self.forest_retrain_rows,
        )

    @property
    def consumer_group(self) -> str:
        """Consumer group in effect."""
        return self.group or f"{self.prefix}.processor"
