"""Settings of `gridwatch migrate`: the owner's connection (the common GRIDWATCH_POSTGRES_*) and the workload roles."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from gridwatch.common.db.roles import RoleError, parse_roles
from gridwatch.common.settings import CommonSettings


class MigrateSettings(CommonSettings):
    """The migrations run as the database owner named by GRIDWATCH_POSTGRES_*; then each workload role is granted."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore", populate_by_name=True)

    postgres_roles: str = Field(
        default="",
        description="<workload>=<login role> pairs, comma-separated (e.g. history=gw_history,api=gw_api): "
        "`gridwatch migrate` gives each role exactly its workload's grants; empty = migrations only.",
    )

    @field_validator("postgres_roles")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parse_roles(value)
        except RoleError as exc:
            raise ValueError(f"GRIDWATCH_POSTGRES_ROLES: {exc}") from exc
        return value

    @property
    def roles(self) -> dict[str, str]:
        """{workload: role} to grant."""
        return parse_roles(self.postgres_roles)
