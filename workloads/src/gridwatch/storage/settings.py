"""Storage optimizer settings: the site's batteries, tariff, demand charge, grid limits and planning cadence."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from gridwatch.common.asset_settings import SiteAssetsSettings
from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig

__all__ = ["BatteryConfig", "FlexibleLoadConfig", "StorageSettings"]


class StorageSettings(SiteAssetsSettings):
    """How and how often the storage optimizer plans; batteries (SiteAssetsSettings) and tariff from the EnergySite."""

    step_s: int = Field(default=900, ge=60, le=3600, alias="GRIDWATCH_STORAGE_STEP_S")
    horizon_hours: float = Field(default=24.0, gt=0, le=168, alias="GRIDWATCH_STORAGE_HORIZON_HOURS")
    time_limit_s: float = Field(default=5.0, gt=0, le=600, alias="GRIDWATCH_STORAGE_TIME_LIMIT_S")
    timezone: str = Field(default="UTC", alias="GRIDWATCH_TIMEZONE", description="Site time zone (IANA)")
    # tariff (analytics.tariff) and demand charge
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", alias="GRIDWATCH_ANALYTICS_TARIFF_CURRENCY")
    peak_price: float = Field(default=0.32, ge=-10, le=100, alias="GRIDWATCH_ANALYTICS_TARIFF_PEAK_PRICE")
    offpeak_price: float = Field(default=0.18, ge=-10, le=100, alias="GRIDWATCH_ANALYTICS_TARIFF_OFFPEAK_PRICE")
    export_price: float = Field(default=0.0, ge=-10, le=100, alias="GRIDWATCH_ANALYTICS_TARIFF_EXPORT_PRICE")
    peak_start_hour: int = Field(default=17, ge=0, le=23, alias="GRIDWATCH_ANALYTICS_TARIFF_PEAK_START_HOUR")
    peak_end_hour: int = Field(default=21, ge=1, le=24, alias="GRIDWATCH_ANALYTICS_TARIFF_PEAK_END_HOUR")
    demand_charge_per_kw: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_DEMAND_CHARGE_PER_KW")
    carbon_weight_per_kg: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_CARBON_WEIGHT_PER_KG")
    grid_import_max_kw: float = Field(default=math.inf, gt=0, alias="GRIDWATCH_ANALYTICS_GRID_IMPORT_MAX_KW")
    grid_export_max_kw: float = Field(default=math.inf, ge=0, alias="GRIDWATCH_ANALYTICS_GRID_EXPORT_MAX_KW")
    day_ahead_adder_per_kwh: float = Field(
        default=0.0,
        ge=-10,
        le=100,
        alias="GRIDWATCH_ANALYTICS_TARIFF_DAY_AHEAD_ADDER",
        description="Added to each day-ahead price (per kWh): network charges and taxes on top of the wholesale price",
    )
    soc_target_penalty_per_kwh: float = Field(default=1.0, ge=0, alias="GRIDWATCH_STORAGE_SOC_TARGET_PENALTY")
    # grid signals (`gridwatch grid` on <prefix>.grid): day-ahead prices and carbon intensity
    grid_signals: bool = Field(default=True, alias="GRIDWATCH_STORAGE_GRID_SIGNALS")
    grid_max_age_s: float = Field(
        default=7200.0,
        gt=0,
        alias="GRIDWATCH_STORAGE_GRID_MAX_AGE_S",
        description="A grid value fetched longer ago is stale: the plan falls back to the tariff",
    )
    grid_lookback_s: float = Field(
        default=86400.0,
        ge=0,
        alias="GRIDWATCH_STORAGE_GRID_LOOKBACK_S",
        description="At start, read the grid topic from this long ago",
    )
    # where the load forecast comes from
    history_days: int = Field(default=7, ge=1, le=90, alias="GRIDWATCH_STORAGE_HISTORY_DAYS")
    state_max_age_s: float = Field(default=300.0, gt=0, alias="GRIDWATCH_STORAGE_STATE_MAX_AGE_S")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @property
    def steps(self) -> int:
        """Steps in the horizon."""
        return max(1, round(self.horizon_hours * 3600 / self.step_s))
