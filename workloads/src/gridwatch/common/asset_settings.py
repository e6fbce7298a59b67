"""The site's batteries and flexible loads as the EnergySite configures them, read alike by every workload."""

from __future__ import annotations

from pydantic import Field

from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.settings import CommonSettings


class SiteAssetsSettings(CommonSettings):
    """analytics.battery (one battery) or analytics.batteries (a JSON list), and analytics.flexibleLoads."""

    capacity_kwh: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH")
    power_kw: float = Field(default=0.0, ge=0, alias="GRIDWATCH_ANALYTICS_BATTERY_POWER_KW")
    efficiency: float = Field(default=0.9, gt=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_EFFICIENCY")
    soc_min: float = Field(default=0.1, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_MIN")
    soc_max: float = Field(default=0.95, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_MAX")
    soc_target: float | None = Field(default=None, ge=0, le=1, alias="GRIDWATCH_ANALYTICS_BATTERY_SOC_TARGET")
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
                soc_target=self.soc_target,
            )
        ]
