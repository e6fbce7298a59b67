"""Schema migrations: ordered SQL files applied once each, recorded in schema_migrations."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.db.connection import connect

# `connect` lived here first; callers importing it from this module keep working.
__all__ = ["Migration", "MigrationError", "SchemaNotReady", "connect", "ensure_schema", "load", "migrate", "pending"]

LOCK_ID = 0x67726964  # pg_advisory_xact_lock key shared by every process that migrates
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The database's recorded migrations disagree with the files in the repository."""


class SchemaNotReady(psycopg.errors.InsufficientPrivilege):
    """Migrations are pending and this connection's role may not apply them (run `gridwatch migrate` as the owner).

    A psycopg error (the privilege one it stems from), so every workload's database retry treats it like an outage.
    """


@dataclass(frozen=True)
class Migration:
    """One SQL file of the migrations folder."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text, to notice a migration edited after it was applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load() -> list[Migration]:
    """The migrations shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in (resources.files("gridwatch.common.db") / "migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


def migrate(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """Apply every pending migration in one transaction; returns the names applied.

    An advisory lock serialises concurrent starters (history, alerts and API replicas).
    """
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        done = {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
        for m in load():
            if m.version in done:
                if done[m.version][1] != m.checksum:
                    raise MigrationError(f"migration {m.version:03d}_{m.name} was changed after it was applied")
                continue
            conn.execute(m.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            )
            applied_now.append(f"{m.version:03d}_{m.name}")
    return applied_now


def pending(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """The shipped migrations the database has not recorded yet (read-only: any workload role may ask)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    done: set[int] = set()
    if row is not None and row[0]:
        done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    return [f"{m.version:03d}_{m.name}" for m in load() if m.version not in done]


def ensure_schema(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """What a workload runs at start: nothing when the schema is current (the case with `gridwatch migrate` as a
    separate step, e.g. the chart's hook Job); otherwise it migrates, which only the owner role may do, and a
    least-privilege workload role gets SchemaNotReady, which its caller retries until the owner has migrated."""
    todo = pending(conn)
    if not todo:
        return []
    try:
        return migrate(conn)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SchemaNotReady(
            f"{len(todo)} migrations pending ({', '.join(todo)}) and role {conn.info.user!r} may not apply them: "
            "run `gridwatch migrate` as the database owner"
        ) from exc
