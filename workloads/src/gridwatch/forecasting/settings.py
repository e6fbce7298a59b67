"""Forecaster settings, read from GRIDWATCH_FORECAST_* (and the chart's analytics variable) and GRIDWATCH_*."""

from __future__ import annotations

from pydantic import Field

from gridwatch.common.settings import CommonSettings


class ForecasterSettings(CommonSettings):
    """Horizon, step, history window and model selection of `gridwatch forecaster`."""

    horizon_minutes: int = Field(
        default=1440,
        ge=15,
        le=7 * 1440,
        alias="GRIDWATCH_ANALYTICS_FORECAST_HORIZON_MINUTES",
        description="How far ahead each forecast reaches (the EnergySite's analytics.forecastHorizonMinutes).",
    )
    step_minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        alias="GRIDWATCH_FORECAST_STEP_MINUTES",
        description="Forecast step; also how often the forecaster re-forecasts. Must divide a day.",
    )
    history_days: int = Field(default=21, ge=1, le=365, alias="GRIDWATCH_FORECAST_HISTORY_DAYS")
    machines: bool = Field(
        default=True, alias="GRIDWATCH_FORECAST_MACHINES", description="Also forecast each machine's load."
    )
    max_machines: int = Field(default=10_000, ge=0, alias="GRIDWATCH_FORECAST_MAX_MACHINES")
    backtest_folds: int = Field(default=3, ge=1, le=28, alias="GRIDWATCH_FORECAST_BACKTEST_FOLDS")
    reselect_hours: float = Field(
        default=6.0, gt=0, alias="GRIDWATCH_FORECAST_RESELECT_HOURS", description="How often to re-run the backtest."
    )
    model_poll_s: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        alias="GRIDWATCH_FORECAST_MODEL_POLL_S",
        description="How often the registry is checked for a promoted selection besides the Redis notices.",
    )
    redis_ttl_s: int = Field(default=6 * 3600, ge=60, alias="GRIDWATCH_FORECAST_REDIS_TTL_S")

    @property
    def step_s(self) -> float:
        """The step in seconds."""
        return self.step_minutes * 60.0
