"""Alert engine settings, read from GRIDWATCH_ALERTS_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

import os
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gridwatch.common.schema import SensorType, Severity
from gridwatch.common.settings import CommonSettings

RuleKind = Literal["threshold", "anomaly_persistence", "failure_probability", "producer_down", "sensor_silent"]
RouteKind = Literal["webhook", "alertmanager"]
EVENTS = ("fired", "reopened", "escalated", "acknowledged", "cleared")


class RuleConfig(BaseModel):
    """One alert rule. camelCase keys (as in the EnergySite resource) and snake_case are both accepted."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$", max_length=63)
    kind: RuleKind | None = None
    sensor_type: SensorType | Literal["any"] = Field(default="any", alias="sensorType")
    severity: Severity = Severity.WARNING
    for_seconds: float = Field(default=0.0, ge=0, le=86400, alias="forSeconds")
    op: Literal[">", ">=", "<", "<="] = ">"
    value: float | None = None
    probability_above: float | None = Field(default=None, ge=0, le=1, alias="probabilityAbove")
    window_seconds: float = Field(default=300.0, gt=0, le=86400, alias="windowSeconds")
    min_ratio: float = Field(default=0.2, gt=0, le=1, alias="minRatio")
    min_readings: int = Field(default=10, ge=1, alias="minReadings")
    timeout_seconds: float = Field(default=15.0, gt=0, alias="timeoutSeconds")
    max_age_seconds: float = Field(default=120.0, gt=0, alias="maxAgeSeconds")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind is None:
            if self.probability_above is None:
                raise ValueError(f"rule '{self.name}': set kind (or probabilityAbove for a failure-probability rule)")
            object.__setattr__(self, "kind", "failure_probability")
        if self.kind == "threshold" and self.value is None:
            raise ValueError(f"threshold rule '{self.name}' needs a value")
        if self.kind == "failure_probability" and self.probability_above is None:
            raise ValueError(f"failure_probability rule '{self.name}' needs probabilityAbove")
        return self

    def applies_to(self, sensor_type: str) -> bool:
        """True if the rule watches sensors of this type."""
        return self.sensor_type in ("any", sensor_type)


class RouteConfig(BaseModel):
    """Where notifications go: a generic JSON webhook or an Alertmanager (v2 API)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$", max_length=63)
    kind: RouteKind = "webhook"
    url: str = ""
    url_env: str = Field(default="", alias="urlEnv", description="Environment variable holding the URL (a secret)")
    min_severity: Severity = Field(default=Severity.WARNING, alias="minSeverity")
    events: tuple[str, ...] = EVENTS
    headers: dict[str, str] = {}

    @field_validator("events")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(EVENTS)
        if unknown:
            raise ValueError(f"unknown events {sorted(unknown)}; choose from {list(EVENTS)}")
        return value

    def target(self) -> str:
        """The URL in effect (from url_env when set); empty when missing."""
        url = os.environ.get(self.url_env, "") if self.url_env else self.url
        if self.kind == "alertmanager" and url and not url.rstrip("/").endswith("/api/v2/alerts"):
            url = url.rstrip("/") + "/api/v2/alerts"
        return url


DEFAULT_RULES: tuple[RuleConfig, ...] = (
    RuleConfig(name="anomaly-persistence", kind="anomaly_persistence", severity=Severity.WARNING),
    RuleConfig(name="producer-down", kind="producer_down", severity=Severity.CRITICAL),
    RuleConfig(name="sensor-silent", kind="sensor_silent", severity=Severity.WARNING),
)


class AlertSettings(CommonSettings):
    """Rules, lifecycle timings, notification routes and delivery of the alert engine."""

    group: str = Field(
        default="", alias="GRIDWATCH_ALERTS_GROUP", description="Consumer group; default <prefix>.alerts"
    )
    rules: list[RuleConfig] = Field(default=[], alias="GRIDWATCH_ALERTS_RULES")
    default_rules: bool = Field(default=True, alias="GRIDWATCH_ALERTS_DEFAULT_RULES")
    routes: list[RouteConfig] = Field(default=[], alias="GRIDWATCH_ALERTS_ROUTES")
    eval_interval_s: float = Field(default=5.0, gt=0, le=300, alias="GRIDWATCH_ALERTS_EVAL_INTERVAL_S")
    clear_after_s: float = Field(default=30.0, ge=0, alias="GRIDWATCH_ALERTS_CLEAR_AFTER_S")
    reopen_window_s: float = Field(default=600.0, ge=0, alias="GRIDWATCH_ALERTS_REOPEN_WINDOW_S")
    touch_interval_s: float = Field(default=30.0, ge=0, alias="GRIDWATCH_ALERTS_TOUCH_INTERVAL_S")
    delivery_timeout_s: float = Field(default=5.0, gt=0, le=120, alias="GRIDWATCH_ALERTS_DELIVERY_TIMEOUT_S")
    backoff_base_s: float = Field(default=1.0, gt=0, alias="GRIDWATCH_ALERTS_BACKOFF_BASE_S")
    backoff_max_s: float = Field(default=30.0, gt=0, alias="GRIDWATCH_ALERTS_BACKOFF_MAX_S")
    delivery_max_age_s: float = Field(default=86400.0, gt=0, alias="GRIDWATCH_ALERTS_DELIVERY_MAX_AGE_S")
    alertmanager_resend_s: float = Field(default=60.0, ge=0, alias="GRIDWATCH_ALERTS_ALERTMANAGER_RESEND_S")
    external_url: str = Field(default="", alias="GRIDWATCH_ALERTS_EXTERNAL_URL")
    retention_days: int = Field(default=90, ge=1, alias="GRIDWATCH_ALERTS_RETENTION_DAYS")

    @property
    def consumer_group(self) -> str:
        """Consumer group in effect."""
        return self.group or f"{self.prefix}.alerts"

    @property
    def active_rules(self) -> list[RuleConfig]:
        """Configured rules plus the defaults they do not replace (by name)."""
        named = {r.name for r in self.rules}
        defaults = [r for r in DEFAULT_RULES if r.name not in named] if self.default_rules else []
        return [*defaults, *self.rules]
