"""Rebalancer settings: the site's assets, the hard safety limits, the command cadence and dry-run."""

from __future__ import annotations

from pydantic import Field

from gridwatch.common.asset_settings import SiteAssetsSettings


class RebalancerSettings(SiteAssetsSettings):
    """How the rebalancer turns plans into commands; the batteries are the EnergySite's `analytics` ones."""

    interval_s: float = Field(default=60.0, gt=0, le=3600, alias="GRIDWATCH_REBALANCER_INTERVAL_S")
    dry_run: bool = Field(default=False, alias="GRIDWATCH_REBALANCER_DRY_RUN")
    ramp_kw_per_s: float = Field(default=10.0, gt=0, alias="GRIDWATCH_REBALANCER_RAMP_KW_PER_S")
    soc_guard_frac: float = Field(default=0.02, ge=0, le=0.5, alias="GRIDWATCH_REBALANCER_SOC_GUARD")
    command_ttl_intervals: float = Field(default=3.0, ge=1, alias="GRIDWATCH_REBALANCER_COMMAND_TTL_INTERVALS")
    group: str = Field(default="", alias="GRIDWATCH_REBALANCER_GROUP", description="Default <prefix>.rebalancer")
    state_max_age_s: float = Field(default=300.0, gt=0, alias="GRIDWATCH_REBALANCER_STATE_MAX_AGE_S")

    @property
    def consumer_group(self) -> str:
        """Consumer group on `<prefix>.dispatch`."""
        return self.group or f"{self.prefix}.rebalancer"
