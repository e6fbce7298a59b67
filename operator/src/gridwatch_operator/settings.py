"""Operator settings from GRIDWATCH_OPERATOR_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gridwatch_operator.maintenance import windows

GROUP = "gridwatch.io"
VERSION = "v1alpha1"
PLURAL = "energysites"
KIND = "EnergySite"
FINALIZER = "gridwatch.io/helm-release"


def _default_chart() -> Path:
    """The chart baked into the operator image, or the repository's chart when run from a checkout."""
    checkout = Path(__file__).resolve().parents[3] / "charts" / "energy-site"
    return checkout if checkout.is_dir() else Path("/opt/gridwatch/charts/energy-site")


class GridwatchOperatorSettings(BaseSettings):
    """Where the chart and helm are, which image sites run, and how often to look at them."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_OPERATOR_", extra="ignore")

    chart_path: Path = Field(default_factory=_default_chart, description="charts/energy-site directory")
    helm_binary: str = Field(default="helm", description="helm executable (name on PATH or path)")
    helm_timeout_seconds: int = Field(default=120, ge=5, le=3600)
    helm_driver: str = Field(
        default="configmap",
        pattern=r"^(configmap|secret)$",
        description="helm storage driver; configmap keeps the operator away from Secrets",
    )
    workloads_image: str = Field(
        default="ghcr.io/gridwatch/gridwatch:0.1.0",
        min_length=1,
        description="Image of the workloads when a site does not set spec.image",
    )
    image_pull_policy: str = Field(default="IfNotPresent", pattern=r"^(Always|IfNotPresent|Never)$")
    site_values: dict[str, Any] = Field(
        default={}, description="JSON: energy-site values merged over every site's values (operator-wide settings)"
    )
    monitoring_selector_labels: dict[str, str] = Field(
        default={},
        description="JSON: labels Prometheus selects by (e.g. release), put on every site's monitors and rules",
    )
    namespaces: Annotated[list[str], NoDecode] = Field(
        default=[], description="Namespaces to watch (comma-separated); empty means the whole cluster"
    )
    status_interval_seconds: float = Field(default=5.0, gt=0, le=600, description="Status refresh and drift check")
    autoscale_interval_seconds: float = Field(default=15.0, gt=0, le=3600, description="Lag poll for autoscaling")
    data_flowing_window_seconds: float = Field(
        default=60.0, gt=0, le=86400, description="DataFlowing is True when a reading arrived within this window"
    )
    tail_messages: int = Field(
        default=64, ge=1, le=10000, description="Newest readings-topic messages read per partition for heartbeats"
    )
    lag_sample_messages: int = Field(
        default=32,
        ge=1,
        le=10000,
        description="Newest lagging messages read per partition to count lag in readings (exact when the lag fits)",
    )
    drift_repair: bool = Field(default=True, description="Restore release Deployments scaled or deleted by hand")
    kafka_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    retry_delay_seconds: float = Field(default=15.0, gt=0, le=3600, description="Delay before retrying a failure")
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    liveness_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    upgrade_policy: str = Field(
        default="Automatic",
        pattern=r"^(Automatic|Manual)$",
        description="Chart upgrades of sites whose spec.upgrade.policy is Inherit: Automatic or Manual",
    )
    maintenance_windows: list[dict[str, Any]] = Field(
        default=[],
        description='JSON: windows of Inherit sites, [{"schedule": "0 2 * * 6", "durationMinutes": 240}] (UTC)',
    )
    rollout_interval_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How often a site with a held chart upgrade re-checks its window"
    )

    @field_validator("maintenance_windows")
    @classmethod
    def _windows(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        windows(value)  # a bad schedule stops the operator at start, with the reason
        return value

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [n.strip() for n in value.split(",") if n.strip()]
        return value
