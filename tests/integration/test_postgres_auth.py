"""`make up`'s PostgreSQL takes passwords (scram-sha-256) only: no trust, on the socket or on loopback; a cluster made
earlier with trust auth is turned into a password-only one; the workloads connect with the DSN they are given."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from gridwatch.common.db.migrate import migrate
from gridwatch.local.postgres import Postgres


def test_password_auth_only(tmp_path: Path) -> None:
    password = "pg-" + uuid.uuid4().hex
    server = Postgres(tmp_path / "pg", password=password).start()
    try:
        assert password in server.dsn and server.env() == {"GRIDWATCH_POSTGRES_DSN": server.dsn}
        with psycopg.connect(server.dsn) as conn:
            applied = migrate(conn)  # the owner runs the migrations
            assert applied
            hashed = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = current_user").fetchone()
            assert hashed is not None and str(hashed[0]).startswith("SCRAM-SHA-256$")
            rules = conn.execute("SELECT type, auth_method FROM pg_hba_file_rules").fetchall()
            assert rules and {method for _, method in rules} == {"scram-sha-256"}
        plain = f"postgresql://{server.user}@127.0.0.1:{server.port}/{server.database}"
        with pytest.raises(psycopg.OperationalError, match=r"no password supplied|password authentication failed"):
            psycopg.connect(plain, connect_timeout=5)
        wrong = f"postgresql://{server.user}:nope@127.0.0.1:{server.port}/{server.database}"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5)
    finally:
        server.stop()


def test_an_old_trust_cluster_is_switched_to_passwords(tmp_path: Path) -> None:
    old = Postgres(tmp_path / "pg").start()  # what `make up` made before passwords
    try:
        with psycopg.connect(old.dsn) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (7)")
        old.stop()
        trust_dsn = old.dsn
        # the same cluster (same object: as root under a 0700 tmp dir its data lives in a private dir it keeps)
        old.password = "pg-" + uuid.uuid4().hex
        old.start()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(trust_dsn, connect_timeout=5)  # the password-less DSN no longer gets in
        with psycopg.connect(old.dsn) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (7,)
    finally:
        old.stop()
