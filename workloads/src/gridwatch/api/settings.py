"""API settings, read from GRIDWATCH_API_*, the optimizer's GRIDWATCH_OPT_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from gridwatch.optimizer.settings import OptimizerSettings


class ApiSettings(OptimizerSettings):
    """Where the API listens, how often it pushes, who may write, where its EnergySite is; the optimizer's tuning.

    One object per process: the API runs the optimizer, so it carries the optimizer's settings (inherited).
    """

    host: str = Field(default="127.0.0.1", alias="GRIDWATCH_API_HOST")
    port: int = Field(default=8000, ge=0, le=65535, alias="GRIDWATCH_API_PORT")
    ws_update_interval_s: float = Field(default=2.0, gt=0, le=60, alias="GRIDWATCH_API_WS_UPDATE_INTERVAL_S")
    ws_snapshot_limit: int = Field(default=1000, ge=0, le=100_000, alias="GRIDWATCH_API_WS_SNAPSHOT_LIMIT")
    producer_timeout_s: float = Field(default=10.0, gt=0, alias="GRIDWATCH_API_PRODUCER_TIMEOUT_S")
    token: SecretStr = Field(
        default=SecretStr(""),
        alias="GRIDWATCH_API_TOKEN",
        description="Bearer token for write endpoints; empty disables writes.",
    )
    static_dir: Path | None = Field(
        default=None, alias="GRIDWATCH_API_STATIC_DIR", description="Built web UI to serve at /"
    )
    cors_origins: list[str] = Field(default=[], alias="GRIDWATCH_API_CORS_ORIGINS")
    rate_limit_rps: float = Field(
        default=200.0,
        ge=0,
        alias="GRIDWATCH_API_RATE_LIMIT_RPS",
        description="Requests per second each client address may sustain (429 beyond); 0 turns the limit off",
    )
    cache_ttl_s: float = Field(
        default=0.25,
        ge=0,
        le=10,
        alias="GRIDWATCH_API_CACHE_TTL_S",
        description="Live-state answers (stats, sensor pages, producers) are shared for this long; 0 turns it off",
    )
    rate_limit_burst: int = Field(default=400, ge=1, alias="GRIDWATCH_API_RATE_LIMIT_BURST")
    # where the API finds its EnergySite (the energy-site chart sets these in the pod)
    k8s_site_namespace: str = Field(
        default="", alias="GRIDWATCH_API_K8S_SITE_NAMESPACE", description="Namespace of the EnergySite; empty: local"
    )
    k8s_site_name: str = Field(default="", alias="GRIDWATCH_API_K8S_SITE_NAME", description="Empty: GRIDWATCH_SITE")
    k8s_kubeconfig: str = Field(
        default="",
        alias="GRIDWATCH_API_K8S_KUBECONFIG",
        description="kubeconfig outside a cluster (dev, tests)",
    )
    k8s_timeout_s: float = Field(default=5.0, gt=0, le=60, alias="GRIDWATCH_API_K8S_TIMEOUT_S")
