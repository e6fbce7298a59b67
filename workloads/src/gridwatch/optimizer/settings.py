"""Optimizer settings (part of the API's settings): tariff, analysis window and the thresholds of each rule."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

from gridwatch.common.schema import SensorType
from gridwatch.common.settings import CommonSettings


class Period(BaseModel):
    """A time-of-use price period: [start_hour, end_hour) local time (crossing midnight when start > end)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=32)
    start_hour: float = Field(ge=0, le=24, alias="startHour")
    end_hour: float = Field(ge=0, le=24, alias="endHour")
    price: float = Field(ge=0, le=100, alias="pricePerKWh")
    days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4, 5, 6), description="Weekdays, Monday = 0")


class OptimizerSettings(CommonSettings):
    """How suggestions are computed; the tariff defaults to the EnergySite's two-rate analytics tariff."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", alias="GRIDWATCH_ANALYTICS_TARIFF_CURRENCY")
    peak_price: float = Field(default=0.32, ge=0, alias="GRIDWATCH_ANALYTICS_TARIFF_PEAK_PRICE")
    offpeak_price: float = Field(default=0.18, ge=0, alias="GRIDWATCH_ANALYTICS_TARIFF_OFFPEAK_PRICE")
    peak_start_hour: int = Field(default=17, ge=0, le=23, alias="GRIDWATCH_ANALYTICS_TARIFF_PEAK_START_HOUR")
    peak_end_hour: int = Field(default=21, ge=1, le=24, alias="GRIDWATCH_ANALYTICS_TARIFF_PEAK_END_HOUR")
    tariff_periods: list[Period] = Field(
        default=[], alias="GRIDWATCH_OPT_TARIFF_PERIODS", description="JSON periods; replaces the two-rate tariff"
    )
    window_hours: float = Field(default=168.0, gt=0, le=24 * 90, alias="GRIDWATCH_OPT_WINDOW_HOURS")
    bucket_s: int = Field(default=900, ge=60, le=86400, alias="GRIDWATCH_OPT_BUCKET_S")
    cache_s: float = Field(default=30.0, ge=0, alias="GRIDWATCH_OPT_CACHE_S")
    priority_ref: float = Field(default=5.0, gt=0, alias="GRIDWATCH_OPT_PRIORITY_REF")
    min_saving_kwh: float = Field(default=0.01, ge=0, alias="GRIDWATCH_OPT_MIN_SAVING_KWH")
    shiftable_fraction: float = Field(default=0.3, ge=0, le=1, alias="GRIDWATCH_OPT_SHIFTABLE_FRACTION")
    base_percentile: float = Field(default=10.0, ge=0, le=100, alias="GRIDWATCH_OPT_BASE_PERCENTILE")
    fp_level: float = Field(default=0.3, gt=0, le=1, alias="GRIDWATCH_OPT_FP_LEVEL")
    anomaly_ratio: float = Field(default=0.1, gt=0, le=1, alias="GRIDWATCH_OPT_ANOMALY_RATIO")
    trend_hours: float = Field(default=1.0, gt=0, le=168, alias="GRIDWATCH_OPT_TREND_HOURS")
    degradation_loss: float = Field(default=0.05, ge=0, le=1, alias="GRIDWATCH_OPT_DEGRADATION_LOSS")
    output_type: SensorType = Field(default=SensorType.PRESSURE, alias="GRIDWATCH_OPT_OUTPUT_TYPE")
    efficiency_threshold: float = Field(default=0.3, gt=0, alias="GRIDWATCH_OPT_EFFICIENCY_THRESHOLD")
    peer_tolerance: float = Field(default=0.25, gt=0, le=2, alias="GRIDWATCH_OPT_PEER_TOLERANCE")
    min_peers: int = Field(default=3, ge=2, alias="GRIDWATCH_OPT_MIN_PEERS")
    work_start_hour: float = Field(default=7.0, ge=0, le=24, alias="GRIDWATCH_OPT_WORK_START_HOUR")
    work_end_hour: float = Field(default=19.0, ge=0, le=24, alias="GRIDWATCH_OPT_WORK_END_HOUR")
    work_days: Annotated[tuple[int, ...], NoDecode] = Field(default=(0, 1, 2, 3, 4), alias="GRIDWATCH_OPT_WORK_DAYS")
    out_of_hours_ratio: float = Field(default=0.7, gt=0, alias="GRIDWATCH_OPT_OUT_OF_HOURS_RATIO")
    idle_fraction: float = Field(default=0.25, gt=0, lt=1, alias="GRIDWATCH_OPT_IDLE_FRACTION")
    min_idle_hours: float = Field(default=1.0, gt=0, alias="GRIDWATCH_OPT_MIN_IDLE_HOURS")
    off_kw: float = Field(default=0.5, ge=0, alias="GRIDWATCH_OPT_OFF_KW")

    @field_validator("work_days", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return tuple(int(v) for v in text.split(",") if v.strip())
        return value
