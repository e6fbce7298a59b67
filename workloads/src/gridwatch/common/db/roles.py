"""Least privilege in the site database: each workload's login role gets exactly the grants its queries need.

The owner role runs the migrations (`gridwatch migrate`) and then grants: for every workload given a role, first
everything on the schema's tables, sequences and functions is revoked from that role, then its grants below are
given, so a grant dropped from this table is withdrawn at the next migrate. Partitions of gw_history_minute need no
grants of their own: PostgreSQL checks the parent's privileges for rows reached through it, the only way any
workload reads or writes them, and they are created by gw_history_ensure_days as the owner (migration 050).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

__all__ = ["WORKLOAD_GRANTS", "Grant", "RoleError", "apply_grants", "parse_roles"]


class RoleError(ValueError):
    """A role mapping that cannot be applied (unknown workload, missing role, the owner itself, a superuser)."""


@dataclass(frozen=True)
class Grant:
    """Privileges on one object: `privileges` is SQL from this module only (never user input)."""

    privileges: str
    kind: str  # TABLE, SEQUENCE or FUNCTION
    name: str  # the object; for a function its signature, e.g. gw_history_ensure_days(date[])


def _tables(privileges: str, *names: str) -> tuple[Grant, ...]:
    return tuple(Grant(privileges, "TABLE", n) for n in names)


def _sequences(*names: str) -> tuple[Grant, ...]:
    return tuple(Grant("USAGE", "SEQUENCE", n) for n in names)


_SCHEMA = _tables("SELECT", "schema_migrations")  # every workload checks the schema is current before it starts
_READ_HISTORY = _tables("SELECT", "gw_history_minute", "gw_history_type_minute")
_LEDGER = _tables("SELECT, INSERT, UPDATE, DELETE", "gw_kafka_offsets")  # forget_ahead deletes its own entries
_READ_MODELS = _tables("SELECT", "gw_models", "gw_model_events")

# What each workload's queries need, and nothing more (gridwatch.<workload>'s SQL; the test
# tests/integration/test_postgres_roles.py runs each workload's own code as its role and the forbidden statements).
WORKLOAD_GRANTS: Mapping[str, tuple[Grant, ...]] = {
    "history": (
        *_SCHEMA,
        *_LEDGER,
        *_tables("SELECT, INSERT, UPDATE", "gw_history_minute", "gw_history_type_minute"),  # upserts, no DELETE
        Grant("EXECUTE", "FUNCTION", "gw_history_ensure_days(date[])"),  # partitions ahead, as the owner
        Grant("EXECUTE", "FUNCTION", "gw_history_drop_before(timestamptz)"),  # retention, as the owner
    ),
    "alerts": (
        *_SCHEMA,
        *_LEDGER,
        *_tables("SELECT, INSERT, UPDATE, DELETE", "gw_alerts", "gw_alert_outbox"),  # retention deletes cleared
        *_tables("SELECT, INSERT, UPDATE", "gw_alert_events", "gw_alert_event_marks"),
        *_sequences("gw_alerts_id_seq", "gw_alert_events_id_seq", "gw_alert_outbox_id_seq"),
    ),
    "api": (
        *_SCHEMA,
        *_READ_HISTORY,  # history, analytics, energy and the optimizer's suggestions
        *_READ_MODELS,
        *_tables("SELECT", "gw_alerts", "gw_alert_events", "gw_ingest_sensors", "gw_ingest_gateways"),
        # ack and clear: the lifecycle columns only, and their event rows
        Grant("UPDATE (state, acknowledged_at, acknowledged_by, cleared_at, cleared_by)", "TABLE", "gw_alerts"),
        Grant("INSERT", "TABLE", "gw_alert_events"),
        *_sequences("gw_alert_events_id_seq"),
    ),
    "trainer": (  # also `gridwatch models list|promote|rollback` and `gridwatch train`
        *_SCHEMA,
        *_READ_HISTORY,
        *_tables("SELECT, INSERT, UPDATE", "gw_models"),
        *_tables("SELECT, INSERT", "gw_model_events"),
        *_sequences("gw_model_events_id_seq"),
    ),
    "forecaster": (*_SCHEMA, *_READ_HISTORY, *_READ_MODELS),
    "processor": (*_SCHEMA, *_READ_MODELS),  # hot-reloads the promoted detector
    "storage": (*_SCHEMA, *_tables("SELECT", "gw_history_type_minute")),
    # ON CONFLICT (command_id) DO NOTHING reads the arbiter column: SELECT on it alone, the audit stays write-only
    "rebalancer": (*_SCHEMA, *_tables("INSERT, SELECT (command_id)", "gw_rebalancer_audit")),
    "ingest": (*_SCHEMA, *_tables("SELECT, INSERT, UPDATE", "gw_ingest_sensors", "gw_ingest_gateways")),
}


def parse_roles(text: str) -> dict[str, str]:
    """`history=gw_history,api=gw_api` (GRIDWATCH_POSTGRES_ROLES, or --grant) to {workload: role}."""
    roles: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        workload, sep, role = (s.strip() for s in item.partition("="))
        if not sep or not workload or not role:
            raise RoleError(f"{item!r}: expected <workload>=<role>")
        if workload not in WORKLOAD_GRANTS:
            raise RoleError(f"unknown workload {workload!r}; known: {', '.join(WORKLOAD_GRANTS)}")
        roles[workload] = role
    return roles


def _grant(role: str, g: Grant) -> sql.Composed:
    if g.kind == "FUNCTION":
        name, _, args = g.name.partition("(")
        target: sql.Composable = sql.SQL("{}({}").format(sql.Identifier(name), sql.SQL(args))
    else:
        target = sql.Identifier(g.name)
    return sql.SQL("GRANT {} ON {} {} TO {}").format(
        sql.SQL(g.privileges), sql.SQL(g.kind), target, sql.Identifier(role)
    )


def apply_grants(conn: psycopg.Connection[TupleRow], roles: Mapping[str, str]) -> dict[str, list[str]]:
    """As the owner, in one transaction: each role's previous grants revoked, then its workloads' grants given.

    A role serving several workloads gets the union. Returns {role: [the GRANT statements]}.
    """
    per_role: dict[str, list[Grant]] = {}
    for workload, role in roles.items():
        if workload not in WORKLOAD_GRANTS:
            raise RoleError(f"unknown workload {workload!r}; known: {', '.join(WORKLOAD_GRANTS)}")
        per_role.setdefault(role, [])
        per_role[role] += [g for g in WORKLOAD_GRANTS[workload] if g not in per_role[role]]
    done: dict[str, list[str]] = {}
    with conn.transaction():
        row = conn.execute("SELECT current_user, current_schema()").fetchone()
        assert row is not None
        owner, schema = str(row[0]), str(row[1])
        for role, grants in per_role.items():
            found = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if found is None:
                raise RoleError(f"role {role!r} does not exist (create it with LOGIN and a password first)")
            if role == owner:
                raise RoleError(f"role {role!r} is the owner running the migrations, not a workload role")
            if found[0]:
                raise RoleError(f"role {role!r} is a superuser: grants cannot limit it")
            for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
                conn.execute(
                    sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA {} FROM {}").format(
                        sql.SQL(kind), sql.Identifier(schema), sql.Identifier(role)
                    )
                )
            statements = [_grant(role, g) for g in grants]
            for stmt in statements:
                conn.execute(stmt)
            done[role] = [stmt.as_string(conn) for stmt in statements]
    return done
