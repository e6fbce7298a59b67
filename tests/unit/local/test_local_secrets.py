"""`make up` gives Redis and PostgreSQL generated passwords, kept in the state dir (0600) and reused on the next run."""

from __future__ import annotations

import stat
from pathlib import Path

from gridwatch.local.process import stored_secret
from gridwatch.local.runtime import Options, Runtime


def test_stored_secret_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "x"
    first = stored_secret(path)
    assert len(first) >= 24
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_secret(path) == first
    assert stored_secret(tmp_path / "secrets" / "y") != first


def test_make_up_runs_redis_with_a_password_the_workloads_get(tmp_path: Path) -> None:
    runtime = Runtime(Options(dir=tmp_path / ".gridwatch", ui_dir=tmp_path / "no-ui"))
    redis = runtime.stack.redis
    assert redis is not None
    password = (tmp_path / ".gridwatch" / "secrets" / "redis-password").read_text().strip()
    assert redis.password == password
    env = runtime.env("processor")
    assert env["GRIDWATCH_REDIS_PASSWORD"] == password
    assert password not in env["GRIDWATCH_REDIS_URL"]
    again = Runtime(Options(dir=tmp_path / ".gridwatch", ui_dir=tmp_path / "no-ui"))
    assert again.stack.redis is not None and again.stack.redis.password == password


def test_make_up_runs_postgres_with_a_password_in_the_workloads_dsn(tmp_path: Path) -> None:
    runtime = Runtime(Options(dir=tmp_path / ".gridwatch", ui_dir=tmp_path / "no-ui"))
    postgres = runtime.stack.postgres
    assert postgres is not None
    password = (tmp_path / ".gridwatch" / "secrets" / "postgres-password").read_text().strip()
    assert postgres.password == password
    redis_password = (tmp_path / ".gridwatch" / "secrets" / "redis-password").read_text().strip()
    assert password != redis_password
    assert runtime.env("history")["GRIDWATCH_POSTGRES_DSN"] == (
        f"postgresql://gridwatch:{password}@127.0.0.1:{postgres.port}/gridwatch"
    )
