"""Rebalancer settings: the site's assets, the hard safety limits, the command cadence and dry-run."""

from __future__ import annotations

from pydantic import Field

from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.settings import CommonSettings


class RebalancerSettings(CommonSettings):
    """How the rebalancer turns plans into commands; the batteries are the EnergySite's `analytics` ones."""

    interval_s: float = Field(default=60.0, gt=0, le=3600, alias="GRIDWATCH_REBALANCER_INTERVAL_S")
    dry_run: bool = Field(default=False, alias="GRIDWATCH_REBALANCER_DRY_RUN")
    ramp_kw_per_s: float = Field(default=10.0, gt=0, alias="GRIDWATCH_REBALANCER_RAMP_KW_PER_S")
    soc_guard_frac: float = Field(default=0.02, ge=0, le=0.5, alias="GRIDWATCH_REBALANCER_SOC_GUARD")
    command_ttl_intervals: float = Field(default=3.0, ge=1, alias="GRIDWATCH_REBALANCER_COMMAND_TTL_INTERVALS")
    group: str = Field(default="", alias="GRIDWATCH_REBALANCER_GROUP", description="Default <prefix>.rebalancer")
    state_max_age_s: float = Field(default=300.0, gt=0, alias="GRIDWATCH_REBALANCER_STATE_MAX_AGE_S")
    # the same battery description the storage optimizer reads
    capacity_kwh: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH")
    power_kw: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_BATTERY_POWER_KW")
    efficiency: float = Field(default=0.9, gt=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_EFFICIENCY")
    soc_min: float = Field(default=0.1, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_MIN")
    soc_max: float = Field(default=0.95, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_MAX")
    batteries_json: list[BatteryConfig] = Field(default=[], alias="GRIDWATCH_ANALYTICS_BATTERIES")
    flexible_loads: list[FlexibleLoadConfig] = Field(default=[], alias="GRIDWATCH_ANALYTICS_FLEXIBLE_LOADS")

    @property
    def batteries(self) -> list[BatteryConfig]:
        """The JSON list, else analytics.battery when it has capacity."""
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
            )
        ]

    @property
    def consumer_group(self) -> str:
        """Consumer group on `<prefix>.dispatch`."""
        return self.group or f"{self.prefix}.rebalancer"
