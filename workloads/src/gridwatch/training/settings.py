"""Trainer settings, read from GRIDWATCH_TRAIN_* (the forecast step and horizon from the forecaster's variables)."""

from __future__ import annotations

from pydantic import Field

from gridwatch.common.settings import CommonSettings


class TrainerSettings(CommonSettings):
    """Schedule, promotion margin and training windows of `gridwatch trainer` / `gridwatch train`."""

    interval_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, alias="GRIDWATCH_TRAIN_INTERVAL_HOURS", description="Retrain every this often."
    )
    promote_margin: float = Field(
        default=0.02,
        ge=0,
        lt=1,
        alias="GRIDWATCH_TRAIN_PROMOTE_MARGIN",
        description="A candidate is promoted only if its backtest metric is this fraction below the served model's.",
    )
    auto_promote: bool = Field(
        default=True, alias="GRIDWATCH_TRAIN_AUTO_PROMOTE", description="Promote candidates that beat the margin."
    )
    created_by: str = Field(default="trainer", alias="GRIDWATCH_TRAIN_CREATED_BY")
    history_days: int = Field(default=21, ge=1, le=365, alias="GRIDWATCH_FORECAST_HISTORY_DAYS")
    horizon_minutes: int = Field(default=1440, ge=15, le=7 * 1440, alias="GRIDWATCH_ANALYTICS_FORECAST_HORIZON_MINUTES")
    step_minutes: int = Field(default=15, ge=1, le=1440, alias="GRIDWATCH_FORECAST_STEP_MINUTES")
    backtest_folds: int = Field(default=3, ge=1, le=28, alias="GRIDWATCH_FORECAST_BACKTEST_FOLDS")
    max_machines: int = Field(default=10_000, ge=0, alias="GRIDWATCH_FORECAST_MAX_MACHINES")
    detector_hours: float = Field(
        default=24.0, gt=0, le=24 * 31, alias="GRIDWATCH_TRAIN_DETECTOR_HOURS", description="History the forest learns."
    )
    detector_max_sensors: int = Field(default=1000, ge=1, alias="GRIDWATCH_TRAIN_DETECTOR_MAX_SENSORS")
    detector_min_rows: int = Field(default=2000, ge=256, alias="GRIDWATCH_TRAIN_DETECTOR_MIN_ROWS")
    forest_trees: int = Field(default=100, ge=10, le=1000, alias="GRIDWATCH_PROC_FOREST_TREES")
    seed: int = Field(default=7, alias="GRIDWATCH_TRAIN_SEED")

    @property
    def step_s(self) -> float:
        """The forecast step in seconds."""
        return self.step_minutes * 60.0
