"""API settings, read from GRIDWATCH_API_*, the optimizer's GRIDWATCH_OPT_* and the common GRIDWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from gridwatch.optimizer.settings import OptimizerSettings


class ApiSettings(OptimizerSettings):
    """Where the API listens, how often it pushes, who may write, where its EnergySite is; the optimizer's tuning.

    One object per process: the API runs the optimizer, so it carries the optimizer's settings (inherited).
    """

    host: str = Field(default="127.0.0.1", alias="GRIDWATCH_API_HOST")
    port: int = Field(default=8000, ge=0, le=65535, alias="GRIDWATCH_API_PORT")
    ws_update_interval_s: float = Field(default=2.0, gt=0, le=60, alias="GRIDWATCH_API_WS_UPDATE_INTERVAL_S")
    energy_today_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        alias="GRIDWATCH_API_ENERGY_TODAY_INTERVAL_S",
        description="How often today's energy and cost gauges are recomputed from PostgreSQL",
    )
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
    # optional OIDC/JWT authentication of reads, /ws and /docs (api/auth.py, docs/security.md); off without an issuer
    auth_issuer: str = Field(
        default="",
        alias="GRIDWATCH_API_AUTH_ISSUER",
        description="OIDC issuer URL whose tokens may read (and, with the write scopes, write); empty: reads are open",
    )
    auth_audience: str = Field(
        default="", alias="GRIDWATCH_API_AUTH_AUDIENCE", description="Required `aud` of tokens (needed with an issuer)"
    )
    auth_jwks_url: str = Field(
        default="",
        alias="GRIDWATCH_API_AUTH_JWKS_URL",
        description="JWKS URL; empty: the jwks_uri of <issuer>/.well-known/openid-configuration",
    )
    auth_read_scopes: str = Field(
        default="",
        alias="GRIDWATCH_API_AUTH_READ_SCOPES",
        description="Space-separated scopes or roles a token needs to read; empty: any valid token",
    )
    auth_write_scopes: str = Field(
        default="gridwatch:write",
        alias="GRIDWATCH_API_AUTH_WRITE_SCOPES",
        description="Space-separated scopes or roles a token needs to write (ack, clear, ...)",
    )
    auth_algorithms: str = Field(
        default="RS256 ES256",
        pattern=r"^((RS|PS|ES)(256|384|512)|EdDSA)( ((RS|PS|ES)(256|384|512)|EdDSA))*$",
        alias="GRIDWATCH_API_AUTH_ALGORITHMS",
        description="Space-separated signature algorithms accepted (asymmetric only)",
    )
    auth_leeway_s: float = Field(default=30.0, ge=0, le=300, alias="GRIDWATCH_API_AUTH_LEEWAY_S")
    auth_jwks_cache_s: float = Field(
        default=300.0, ge=1, le=86400, alias="GRIDWATCH_API_AUTH_JWKS_CACHE_S", description="JWKS kept this long"
    )
    auth_jwks_min_refresh_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        alias="GRIDWATCH_API_AUTH_JWKS_MIN_REFRESH_S",
        description="An unknown kid refetches the JWKS at most this often (key rotation without a refetch storm)",
    )
    auth_protect_docs: bool = Field(
        default=True, alias="GRIDWATCH_API_AUTH_PROTECT_DOCS", description="With an issuer, /docs needs a token too"
    )

    @model_validator(mode="after")
    def _auth_needs_audience(self) -> ApiSettings:
        if self.auth_issuer and not self.auth_audience:
            raise ValueError("GRIDWATCH_API_AUTH_AUDIENCE is required when GRIDWATCH_API_AUTH_ISSUER is set")
        return self
