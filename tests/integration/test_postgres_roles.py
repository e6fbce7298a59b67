"""Least privilege on a real PostgreSQL with scram passwords, set up as `make up` does: one login role per workload,
`gridwatch migrate` (the CLI) as the owner, then each role runs its workload's own code and is refused what it
should not do. Before separate roles the workloads connected as the owner (a superuser locally)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from gridwatch.api import alert_queries, history_query
from gridwatch.common import registry
from gridwatch.common.db.migrate import SchemaNotReady, ensure_schema, pending
from gridwatch.common.db.roles import WORKLOAD_GRANTS
from gridwatch.common.schema import SCHEMA_VERSION, EnrichedBatch, SensorType, Status
from gridwatch.history import partitions
from gridwatch.history.store import HistoryStore, Record
from gridwatch.ingest.payloads import SensorMeta
from gridwatch.ingest.registry import Registry
from gridwatch.local.postgres import Postgres
from gridwatch.local.runtime import Options, Runtime
from gridwatch.rebalancer.runner import AUDIT_SQL

from tests.utils.workloads import free_port

SITE = "gw.roles"
T0 = time.time() - time.time() % 60
DAY = partitions.day_of(T0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    pg = Postgres(tmp_path_factory.mktemp("pg-roles"), password="owner-" + uuid.uuid4().hex).start()
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def dsns(server: Postgres) -> dict[str, str]:
    """Every workload's login role (scram password) and the schema migrated by `gridwatch migrate`."""
    out: dict[str, str] = {}
    for workload in WORKLOAD_GRANTS:
        password = uuid.uuid4().hex
        server.ensure_login_role(f"gw_{workload}", password)
        out[workload] = server.role_dsn(f"gw_{workload}", password)
    with psycopg.connect(out["history"], autocommit=True) as conn:  # a workload role cannot migrate
        assert pending(conn)
        with pytest.raises(SchemaNotReady, match="gridwatch migrate"):
            ensure_schema(conn)
    roles = ",".join(f"{w}=gw_{w}" for w in WORKLOAD_GRANTS)
    done = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "migrate", "--grant", "api=gw_api"],
        env={"GRIDWATCH_POSTGRES_DSN": server.dsn, "GRIDWATCH_POSTGRES_ROLES": roles, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "050_history_maintenance" in done.stdout and "role gw_api:" in done.stdout
    return out


def refused(dsn: str, statement: str) -> None:
    """The statement fails for lack of privilege (not for any other reason)."""
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.encode())


def batch(sensor: str, ts: float, value: float) -> EnrichedBatch:
    return EnrichedBatch(
        SCHEMA_VERSION,
        SITE,
        [sensor],
        [SensorType.POWER],
        [ts],
        [value],
        [0.1],
        [False],
        [0.01],
        [Status.NORMAL],
        [""],
        [value / 60],
    )


def test_a_workload_role_is_no_superuser_and_logs_in_with_scram_only(server: Postgres, dsns: dict[str, str]) -> None:
    with psycopg.connect(server.dsn) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolpassword LIKE 'SCRAM-SHA-256$%' "
            "FROM pg_authid WHERE rolname LIKE 'gw\\_%' ORDER BY 1"
        ).fetchall()
    assert [r[0] for r in rows] == sorted(f"gw_{w}" for w in WORKLOAD_GRANTS)
    assert all(r[1:] == (False, False, False, True) for r in rows)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsns["api"].replace("@", "x@", 1), connect_timeout=5)


def test_history_writes_rollups_and_keeps_partitions_but_cannot_delete_or_alter(dsns: dict[str, str]) -> None:
    dsn = dsns["history"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert ensure_schema(conn) == []  # current: the workload starts without migrating
        made = partitions.ensure_days(conn, [DAY - 40, DAY, DAY + 1])  # through the owner's function
        assert partitions.partition_name(DAY) in made and partitions.partition_name(DAY - 40) in made
        result = HistoryStore(conn, SITE).write("gw.roles.enriched", [Record(0, 0, batch("m1-power", T0 + 1, 5.0))])
        assert result.applied == 1 and result.readings == 1
        again = HistoryStore(conn, SITE).write("gw.roles.enriched", [Record(0, 0, batch("m1-power", T0 + 1, 5.0))])
        assert again.skipped == 1  # the offset ledger
        dropped = partitions.drop_before(conn, partitions.storage_kind(conn), time.time() - 30 * 86400)
        assert dropped == [partitions.partition_name(DAY - 40)]
        row = conn.execute("SELECT readings FROM gw_history_minute WHERE site = %s", (SITE,)).fetchone()
        assert row == (1,)
    refused(dsn, "DELETE FROM gw_history_minute")
    refused(dsn, "ALTER TABLE gw_history_minute ADD COLUMN x int")
    refused(dsn, f"DROP TABLE {partitions.partition_name(DAY)}")
    refused(dsn, "CREATE TABLE gw_mine (x int)")
    refused(dsn, "SELECT * FROM gw_alerts")
    refused(dsn, "SELECT * FROM gw_models")
    for other in ("api", "alerts", "trainer"):  # the maintenance functions are the history writer's alone
        refused(dsns[other], f"SELECT gw_history_ensure_days(ARRAY['{partitions._date(DAY + 5)}'::date])")


def test_alerts_and_the_api_share_the_lifecycle_within_their_grants(dsns: dict[str, str]) -> None:
    with psycopg.connect(dsns["alerts"], autocommit=True) as conn, conn.transaction():
        (alert_id,) = conn.execute(
            "INSERT INTO gw_alerts (site, fingerprint, rule, severity, state, message, first_seen, last_seen) "
            "VALUES (%s, 'fp1', 'anomaly', 'critical', 'active', 'hot', now(), now()) RETURNING id",
            (SITE,),
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            "INSERT INTO gw_alert_events (alert_id, site, event, actor, severity, state, message, count) "
            "VALUES (%s, %s, 'fired', 'engine', 'critical', 'active', 'hot', 1)",
            (alert_id, SITE),
        )

    async def as_api() -> tuple[str, str]:
        async with await psycopg.AsyncConnection.connect(dsns["api"], autocommit=True) as conn:
            acked = await alert_queries.transition(conn, SITE, alert_id, "ack", "alice")
            cleared = await alert_queries.transition(conn, SITE, alert_id, "clear", "alice")
            assert acked is not None and cleared is not None
            summary = await history_query.summary(conn, SITE, T0 - 3600, T0 + 3600)
            assert summary is not None
            return str(acked["state"]), str(cleared["state"])

    assert asyncio.run(as_api()) == ("acknowledged", "cleared")
    api = dsns["api"]
    refused(api, "DELETE FROM gw_history_minute")
    refused(api, "DROP TABLE gw_history_minute")
    refused(api, "TRUNCATE gw_history_minute")
    refused(
        api,
        "INSERT INTO gw_history_type_minute (site, sensor_type, minute, sensors, readings, anomalies, "
        "value_sum, value_min, value_max, energy_kwh) VALUES ('x', 'power', now(), 1, 1, 0, 1, 1, 1, 1)",
    )
    refused(api, "UPDATE gw_alerts SET message = 'rewritten'")  # only the lifecycle columns
    refused(api, "DELETE FROM gw_alerts")
    refused(api, "UPDATE gw_models SET state = 'retired'")
    refused(dsns["alerts"], "SELECT * FROM gw_history_minute")
    refused(dsns["alerts"], "ALTER TABLE gw_alerts DROP COLUMN message")


def test_trainer_registers_and_promotes_models_the_readers_only_read(dsns: dict[str, str]) -> None:
    with psycopg.connect(dsns["trainer"], autocommit=True) as conn:
        rec = registry.register(
            conn,
            SITE,
            registry.ModelKind.DETECTOR,
            algorithm="iforest",
            window=(T0 - 86400, T0),
            features=["score"],
            metrics={"auc": 0.9},
            artifact=b"model",
            created_by="trainer",
        )
        registry.promote(conn, SITE, registry.ModelKind.DETECTOR, rec.version, "trainer")
    for reader in ("processor", "forecaster", "api"):
        with psycopg.connect(dsns[reader], autocommit=True) as conn:
            found = registry.promoted(conn, SITE, registry.ModelKind.DETECTOR)
            assert found is not None and found.version == rec.version
        refused(dsns[reader], "DELETE FROM gw_models")
    refused(dsns["trainer"], "DELETE FROM gw_models")
    refused(
        dsns["trainer"],
        "INSERT INTO gw_alert_events (alert_id, site, event, actor, severity, state, message, "
        "count) VALUES (1, 'x', 'fired', 'x', 'info', 'active', 'x', 1)",
    )


def test_ingest_rebalancer_and_storage_roles(dsns: dict[str, str]) -> None:
    gateway = {
        "gateway": "gw1",
        "transport": "http",
        "first_seen": T0,
        "last_seen": T0,
        "readings": 3,
        "rejected": 0,
        "rejected_by_reason": {},
        "last_rejection": None,
        "sensors": 1,
        "rate": 1.0,
    }
    reg = Registry(dsns["ingest"], SITE, lambda: [gateway], every_s=0.1)
    reg.start()
    reg.declare("gw1", [SensorMeta("dev-1", SensorType.POWER, "press", "kW")])
    reg.stop()
    assert "dev-1" in Registry(dsns["ingest"], SITE, list).load()
    refused(dsns["ingest"], "DELETE FROM gw_ingest_sensors")
    refused(dsns["ingest"], "SELECT * FROM gw_history_minute")
    with psycopg.connect(dsns["rebalancer"], autocommit=True) as conn:
        conn.execute(AUDIT_SQL, ("c1", SITE, T0, "p1", "bat-1", "battery", 5.0, 4.0, ["ramp"], "peak", True, False))
    refused(dsns["rebalancer"], "SELECT * FROM gw_rebalancer_audit")
    with psycopg.connect(dsns["storage"], autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM gw_history_type_minute WHERE site = %s", (SITE,))
    refused(dsns["storage"], "INSERT INTO gw_rebalancer_audit (command_id) VALUES ('x')")


def test_a_grant_withdrawn_is_revoked_at_the_next_migrate(server: Postgres, dsns: dict[str, str]) -> None:
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute("GRANT DELETE ON gw_history_minute TO gw_api")  # drift a DBA (or an older version) left
    done = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "migrate", "--grant", "api=gw_api"],
        env={"GRIDWATCH_POSTGRES_DSN": server.dsn, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "none (schema current)" in done.stdout
    refused(dsns["api"], "DELETE FROM gw_history_minute")
    for bad in ("api=gw_nobody", "api=gridwatch", "nope=gw_api"):
        failed = subprocess.run(
            [sys.executable, "-m", "gridwatch.cli", "migrate", "--grant", bad],
            env={"GRIDWATCH_POSTGRES_DSN": server.dsn, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert failed.returncode == 1 and "gridwatch migrate failed" in failed.stderr, (bad, failed.stderr)


def test_the_partition_lock_matches_the_function() -> None:
    text = (Path(partitions.__file__).parents[1] / "common/db/migrations/050_history_maintenance.sql").read_text()
    assert f"pg_advisory_xact_lock({partitions.PARTITION_LOCK})" in text


def test_make_up_gives_each_workload_its_own_role(tmp_path: Path) -> None:
    """`make up`'s runtime: roles with scram passwords in 0600 files, migrated and granted before any workload
    starts, each workload's DSN naming its own role, none for the simulator and the grid ingestor."""
    runtime = Runtime(Options(dir=tmp_path / ".gridwatch", ui_dir=tmp_path / "no-ui"))
    pg = runtime.stack.postgres
    assert pg is not None
    pg.port = free_port()
    pg.start()
    try:
        runtime.provision_postgres()
        for name in ("history", "api", "alerts", "trainer", "ingest"):
            dsn = runtime.env(name)["GRIDWATCH_POSTGRES_DSN"]
            assert dsn.startswith(f"postgresql://gw_{name}:"), dsn
            assert (runtime.secrets / f"postgres-{name}").stat().st_mode & 0o777 == 0o600
            with psycopg.connect(dsn) as conn:
                assert pending(conn) == []
                assert conn.execute("SELECT current_user").fetchone() == (f"gw_{name}",)
        refused(runtime.env("api")["GRIDWATCH_POSTGRES_DSN"], "DELETE FROM gw_history_minute")
        for name in ("simulator", "grid"):
            assert "GRIDWATCH_POSTGRES_DSN" not in runtime.env(name), name
        runtime.provision_postgres()  # a second `make up`: same roles and passwords, nothing to migrate
        with psycopg.connect(runtime.env("history")["GRIDWATCH_POSTGRES_DSN"]) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()
