"""Storage optimizer settings: the site's batteries, tariff, demand charge, grid limits and planning cadence."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gridwatch.common.settings import CommonSettings


class BatteryConfig(BaseModel):
    """One battery as the EnergySite describes it (`analytics.battery`, or one entry of `analytics.batteries`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(default="battery", min_length=1, max_length=64)
    capacity_kwh: float = Field(default=0.0, ge=0, alias="capacityKWh")
    power_kw: float = Field(default=0.0, ge=0, alias="powerKW", description="Charge and discharge limit, kW")
    charge_power_kw: float | None = Field(default=None, ge=0, alias="chargePowerKW")
    discharge_power_kw: float | None = Field(default=None, ge=0, alias="dischargePowerKW")
    efficiency: float = Field(default=0.9, gt=0, le=1, description="Round-trip efficiency")
    soc_min: float = Field(default=0.1, ge=0, le=1, alias="socMin")
    soc_max: float = Field(default=0.95, ge=0, le=1, alias="socMax")
    soc_target: float | None = Field(default=None, ge=0, le=1, alias="socTarget")
    initial_soc: float | None = Field(default=None, ge=0, le=1, alias="initialSoc")

    @model_validator(mode="after")
    def _bounds(self) -> BatteryConfig:
        if not self.soc_min < self.soc_max:
            raise ValueError(f"battery {self.name}: socMin must be below socMax")
        if not self.soc_min <= self.target <= self.soc_max:
            raise ValueError(f"battery {self.name}: socTarget must lie within socMin..socMax")
        if self.capacity_kwh > 0 and self.charge_kw <= 0:
            raise ValueError(f"battery {self.name}: charge power must be > 0 when capacity > 0")
        return self

    @property
    def target(self) -> float:
        """Final SOC target: as set, else the middle of the band."""
        return self.soc_target if self.soc_target is not None else (self.soc_min + self.soc_max) / 2

    @property
    def charge_kw(self) -> float:
        """Charge limit in kW (AC)."""
        return self.power_kw if self.charge_power_kw is None else self.charge_power_kw

    @property
    def discharge_kw(self) -> float:
        """Discharge limit in kW (AC)."""
        return self.power_kw if self.discharge_power_kw is None else self.discharge_power_kw

    @property
    def one_way_efficiency(self) -> float:
        """Charge and discharge efficiency each, from the round trip."""
        return math.sqrt(self.efficiency)


class StorageSettings(CommonSettings):
    """How and how often the storage optimizer plans; battery and tariff default to the EnergySite's analytics."""

    step_s: int = Field(default=900, ge=60, le=3600, alias="GRIDWATCH_STORAGE_STEP_S")
    horizon_hours: float = Field(default=24.0, gt=0, le=168, alias="GRIDWATCH_STORAGE_HORIZON_HOURS")
    time_limit_s: float = Field(default=5.0, gt=0, le=600, alias="GRIDWATCH_STORAGE_TIME_LIMIT_S")
    timezone: str = Field(default="UTC", alias="GRIDWATCH_TIMEZONE", description="Site time zone (IANA)")
    # the single battery of analytics.battery
    capacity_kwh: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH")
    power_kw: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_BATTERY_POWER_KW")
    efficiency: float = Field(default=0.9, gt=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_EFFICIENCY")
    soc_min: float = Field(default=0.1, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_MIN")
    soc_max: float = Field(default=0.95, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_MAX")
    soc_target: float | None = Field(default=None, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_TARGET")
    batteries_json: list[BatteryConfig] = Field(
        default=[], alias="GRIDWATCH_ANALYTICS_BATTERIES", description="JSON list; replaces the single battery"
    )
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
    soc_target_penalty_per_kwh: float = Field(default=1.0, ge=0, alias="GRIDWATCH_STORAGE_SOC_TARGET_PENALTY")
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
    def batteries(self) -> list[BatteryConfig]:
        """The site's batteries: the JSON list, else analytics.battery when it has capacity, else none."""
        if self.batteries_json:
            return list(self.batteries_json)
        if self.capacity_kwh <= 0:
            return []
        return [
            BatteryConfig(
                name="battery",
                capacity_kwh=self.capacity_kwh,
                power_kw=self.power_kw,
                efficiency=self.efficiency,
                soc_min=self.soc_min,
                soc_max=self.soc_max,
                soc_target=self.soc_target,
            )
        ]

    @property
    def steps(self) -> int:
        """Steps in the horizon."""
        return max(1, round(self.horizon_hours * 3600 / self.step_s))
