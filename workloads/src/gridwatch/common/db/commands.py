"""`gridwatch migrate`: the migrations and the workload grants, as one step run by the owner (the chart's hook Job)."""

from __future__ import annotations

import psycopg
import typer

from gridwatch.common.db.connection import connect
from gridwatch.common.db.migrate import MigrationError, migrate
from gridwatch.common.db.roles import RoleError, apply_grants, parse_roles
from gridwatch.common.db.settings import MigrateSettings


def run_migrate(settings: MigrateSettings, extra: list[str]) -> int:
    """Migrate and grant; the exit code (0 done, 1 refused or failed, with the reason on stderr)."""
    if not settings.postgres_conninfo:
        typer.echo("gridwatch migrate needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_POSTGRES_HOST)", err=True)
        return 1
    try:
        roles = {**settings.roles, **parse_roles(",".join(extra))}
        with connect(settings.postgres_conninfo, "migrate") as conn:
            applied = migrate(conn)
            granted = apply_grants(conn, roles)
    except (RoleError, MigrationError, psycopg.Error) as exc:
        typer.echo(f"gridwatch migrate failed: {exc}", err=True)
        return 1
    typer.echo(f"migrations applied: {', '.join(applied) or 'none (schema current)'}")
    for role, statements in granted.items():
        typer.echo(f"role {role}: {len(statements)} grants")
    return 0
