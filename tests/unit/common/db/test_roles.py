"""The workload grant table: parsed role mappings, and grants that name only objects the migrations create."""

from __future__ import annotations

import re

import pytest
from gridwatch.common.db.migrate import load
from gridwatch.common.db.roles import WORKLOAD_GRANTS, RoleError, parse_roles
from gridwatch.common.db.settings import MigrateSettings


def test_role_pairs_parse_and_bad_ones_are_named() -> None:
    assert parse_roles(" history=gw_history, api = gw_api ,") == {"history": "gw_history", "api": "gw_api"}
    with pytest.raises(RoleError, match="unknown workload 'simulator'"):
        parse_roles("simulator=gw_sim")
    with pytest.raises(RoleError, match="expected <workload>=<role>"):
        parse_roles("history")
    with pytest.raises(ValueError, match="GRIDWATCH_POSTGRES_ROLES"):
        MigrateSettings(postgres_roles="api=")


def test_every_granted_object_is_created_by_a_migration() -> None:
    sql = "\n".join(m.sql for m in load())
    created = set(re.findall(r"CREATE (?:TABLE IF NOT EXISTS|OR REPLACE FUNCTION) (\w+)", sql))
    created |= {"gw_history_minute", "schema_migrations"}  # made by a format() in 002 and by migrate() itself
    sequences = {f"{t}_id_seq" for t in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \(\s+id\s+bigserial", sql)}
    for workload, grants in WORKLOAD_GRANTS.items():
        for g in grants:
            name = g.name.split("(")[0]
            assert name in (sequences if g.kind == "SEQUENCE" else created), (workload, g)


def test_no_workload_may_delete_rollups_and_only_history_keeps_partitions() -> None:
    for workload, grants in WORKLOAD_GRANTS.items():
        on_rollups = [g.privileges for g in grants if g.name == "gw_history_minute"]
        assert not any("DELETE" in p or "TRUNCATE" in p for p in on_rollups), workload
        functions = [g.name for g in grants if g.kind == "FUNCTION"]
        assert not functions or workload == "history", workload
    api = [g for g in WORKLOAD_GRANTS["api"] if g.name == "gw_alerts" and g.privileges.startswith("UPDATE")]
    assert [g.privileges for g in api] == ["UPDATE (state, acknowledged_at, acknowledged_by, cleared_at, cleared_by)"]
