"""Debian's PostgreSQL in a private cluster: initdb on first start, database `gridwatch`, on loopback; trust auth,
or with a password scram-sha-256 for every connection (what `make up` runs).

Custom on purpose: PostgreSQL refuses to run as root, so as root the cluster runs as a system user created on
demand, with its data where that user can reach it; initdb and the database are created without a server.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gridwatch.local.process import port_open, tail
from gridwatch.local.server import Server, ServerError

PG_SYSTEM_USER = "gridwatch"


def _pg_bindir() -> Path:
    env = os.environ.get("GRIDWATCH_PG_BIN")
    if env:
        return Path(env)
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    if not dirs:
        raise ServerError("no /usr/lib/postgresql/*/bin: apt-get install postgresql")

    def major(d: str) -> float:
        try:
            return float(Path(d).parent.name)
        except ValueError:
            return 0.0

    return Path(max(dirs, key=major))


def _reachable_by(path: Path, uid: int, gid: int) -> bool:
    """True if every ancestor of path can be traversed by uid/gid (path itself may not exist yet)."""
    for p in [path, *path.parents]:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            return False
    return True


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        check=False,
        capture_output=True,
    )  # fmt: skip
    try:
        return pwd.getpwnam(name)
    except KeyError as e:
        raise ServerError(f"could not create system user {name!r} to run postgres as non-root") from e


class Postgres(Server):
    """Debian's PostgreSQL in a private cluster on 127.0.0.1, database `gridwatch`: trust auth, or with
    `password` scram-sha-256 only (pg_hba rewritten at every start; the owner's password set offline).

    When run as root the server runs as the system user ``gridwatch`` (created on demand).
    If that user cannot reach the working dir (e.g. under /root or pytest's 0700 tmp dirs)
    the data lives in a private /tmp dir linked from WORKDIR/pgdata and removed at exit.
    """

    name = "postgres"
    start_timeout = 60.0
    term_signal = signal.SIGINT  # "fast" shutdown: do not wait for clients to disconnect

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        user: str = "gridwatch",
        database: str = "gridwatch",
        bindir: str | os.PathLike[str] | None = None,
        password: str | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.password = password
        self.user = user
        self.database = database
        self.bindir = Path(bindir) if bindir is not None else _pg_bindir()
        self._run_as: pwd.struct_passwd | None = None
        self.data_dir: Path = self.workdir / "data"
        self._fallback: Path | None = None

    @property
    def dsn(self) -> str:
        """postgresql://gridwatch[:password]@127.0.0.1:PORT/gridwatch"""
        auth = self.user + (f":{quote(self.password, safe='')}" if self.password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{self.database}"

    def _as_user_kwargs(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def _prepare(self) -> None:
        for tool in ("initdb", "postgres"):
            if not (self.bindir / tool).exists():
                raise ServerError(f"{self.bindir / tool} not found: apt-get install postgresql")
        if os.geteuid() == 0 and self._run_as is None:
            self._run_as = _ensure_system_user(PG_SYSTEM_USER)
        if self._run_as is not None and self._fallback is None:
            uid, gid = self._run_as.pw_uid, self._run_as.pw_gid
            if not _reachable_by(self.workdir, uid, gid):
                key = hashlib.sha1(str(self.workdir).encode()).hexdigest()[:10]
                self._fallback = Path(tempfile.mkdtemp(prefix=f"gridwatch-pg-{key}-"))
                os.chown(self._fallback, uid, gid)
                self.data_dir = self._fallback / "data"
                link = self.workdir / "pgdata"
                with contextlib.suppress(OSError):
                    link.unlink()
                with contextlib.suppress(OSError):
                    link.symlink_to(self._fallback)
                atexit.register(self._remove_fallback)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.password:
            self._require_password(self.password)

    def _single_user(self, sql: str) -> subprocess.CompletedProcess[bytes]:
        """Run SQL in single-user mode (no server, no network), as the cluster's owner."""
        return subprocess.run(
            [str(self.bindir / "postgres"), "--single", "-D", str(self.data_dir), "-j", "postgres"],
            input=sql.encode(), capture_output=True, cwd=self.data_dir, check=False,
            **self._as_user_kwargs(),
        )  # fmt: skip

    def _require_password(self, password: str) -> None:
        """scram-sha-256 for every connection (socket and loopback), the owner's password set to `password`.

        Also turns a cluster made earlier with trust auth (an older `make up` state dir) into a password-only one.
        """
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(
            "# written by gridwatch.local.postgres: password (SCRAM) authentication only, no trust\n"
            "local all all scram-sha-256\n"
            "host  all all 127.0.0.1/32 scram-sha-256\n"
            "host  all all ::1/128 scram-sha-256\n"
        )
        self._chown(hba)
        stamp = self.data_dir / ".gridwatch-password"
        digest = hashlib.sha256(f"{self.user}:{password}".encode()).hexdigest()
        if stamp.exists() and stamp.read_text().strip() == digest:
            return
        literal = password.replace("'", "''")
        res = self._single_user(
            f"SET password_encryption = 'scram-sha-256';\n\nALTER ROLE \"{self.user}\" PASSWORD '{literal}';\n\n"
        )
        if res.returncode != 0 or b"ERROR" in res.stdout + res.stderr:
            raise ServerError(f"setting the password of {self.user} failed:\n{(res.stdout + res.stderr).decode()}")
        stamp.write_text(digest + "\n")
        self._chown(stamp)

    def _initdb(self) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # half-initialised from an interrupted run
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700)
        self._chown(self.data_dir)
        init_log = self.workdir / "initdb.log"
        with open(init_log, "wb") as out:
            res = subprocess.run(
                [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                 "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir, check=False,
                **self._as_user_kwargs(),
            )  # fmt: skip
        if res.returncode != 0:
            raise ServerError(f"initdb failed:\n{tail(init_log)}")
        # Create the application database in single-user mode (no network, no race).
        res = self._single_user(f'CREATE DATABASE "{self.database}" OWNER "{self.user}";\n')
        if res.returncode != 0 or b"ERROR" in res.stdout + res.stderr:
            raise ServerError(f"creating database {self.database} failed:\n{(res.stdout + res.stderr).decode()}")

    def _remove_fallback(self) -> None:
        """At exit: stop the server, then delete the private /tmp data dir."""
        self.stop()
        if self._fallback is not None:
            shutil.rmtree(self._fallback, ignore_errors=True)
            with contextlib.suppress(OSError):
                (self.workdir / "pgdata").unlink()

    def _command(self) -> list[str]:
        return [
            str(self.bindir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.data_dir}",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
            "-c", "shared_buffers=64MB",
        ]  # fmt: skip

    def _popen_kwargs(self) -> dict[str, Any]:
        return {"cwd": self.data_dir, **self._as_user_kwargs()}

    def _is_ready(self) -> bool:
        if not port_open(self.port):
            return False
        res = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", self.user, "-d", self.database],
            check=False, capture_output=True,
        )  # fmt: skip
        return res.returncode == 0

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_POSTGRES_DSN": self.dsn}

    def role_dsn(self, role: str, password: str) -> str:
        """The DSN of a login role on this server."""
        return f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{self.database}"

    def ensure_login_role(self, role: str, password: str) -> None:
        """As the owner: a LOGIN role (no superuser, no CREATEDB/CREATEROLE) with a scram-sha-256 password;
        an existing role gets its password (re)set, so the secret file stays the truth."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
