"""The site's controllable assets as the EnergySite describes them: batteries and flexible loads."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class FlexibleLoadConfig(BaseModel):
    """A load the rebalancer may limit (`analytics.flexibleLoads`): it runs at `power_kw` while it wants to, for
    `run_hours` a day inside [window_start_hour, window_end_hour) local time, at least `min_run_minutes` per start.
    Lower `priority` is limited first; a `protected` load is never limited."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=64)
    power_kw: float = Field(gt=0, alias="powerKW")
    priority: int = Field(default=100, ge=0, le=1000)
    protected: bool = False
    min_run_minutes: float = Field(default=15.0, ge=0, le=1440, alias="minRunMinutes")
    run_hours: float = Field(default=4.0, ge=0, le=24, alias="runHours")
    window_start_hour: float = Field(default=0.0, ge=0, le=24, alias="windowStartHour")
    window_end_hour: float = Field(default=24.0, ge=0, le=24, alias="windowEndHour")

    @model_validator(mode="after")
    def _window(self) -> FlexibleLoadConfig:
        span = (self.window_end_hour - self.window_start_hour) % 24 or 24
        if self.run_hours > span:
            raise ValueError(f"flexible load {self.name}: runHours exceeds its window")
        return self
