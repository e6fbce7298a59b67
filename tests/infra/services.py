"""Start real local Kafka, Redis, Postgres and Prometheus processes for tests and `make up`."""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import functools
import glob
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "ALL_SERVICES",
    "KAFKA_VERSION",
    "Kafka",
    "Postgres",
    "Prometheus",
    "Redis",
    "Service",
    "ServiceError",
    "Stack",
    "ensure_kafka_libs",
    "free_port",
    "main",
]

HERE = Path(__file__).resolve().parent
KAFKA_DIR = HERE / "kafka"
KAFKA_FETCH_SCRIPT = KAFKA_DIR / "fetch.sh"
KAFKA_LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.4.0")
ALL_SERVICES: tuple[str, ...] = ("kafka", "redis", "postgres", "prometheus")
DEFAULT_UP: tuple[str, ...] = ("kafka", "redis", "postgres")
PG_SYSTEM_USER = "gridwatch"


class ServiceError(RuntimeError):
    """A local component could not be fetched, started or reached."""


# --------------------------------------------------------------------------- helpers

_handed_out: set[int] = set()
_port_lock = threading.Lock()


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1 not handed out before by this process."""
    with _port_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise ServiceError("could not find a free loopback port")


def _port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _cache_root() -> Path:
    env = os.environ.get("GRIDWATCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gridwatch"


def ensure_kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Return the cached Kafka libs dir, running kafka/fetch.sh first if it is missing."""
    dest = _cache_root() / "kafka" / version
    libs = dest / "libs"
    if (dest / ".complete").is_file() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    env = dict(os.environ, KAFKA_VERSION=version)
    # Progress goes to stderr; stdout only repeats the libs path.
    proc = subprocess.run(["bash", str(KAFKA_FETCH_SCRIPT)], env=env, stdout=subprocess.DEVNULL, check=False)
    if proc.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        raise ServiceError(f"fetching Kafka {version} failed (exit {proc.returncode}); see output above")
    return libs


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _die_with_parent() -> None:
    """Child-side hook: ask the kernel to SIGTERM us when the spawning thread dies."""
    libc = _libc()
    if libc is not None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pdeathsig_hook() -> Callable[[], None] | None:
    """Return a preexec_fn tying the child to this process, or None where that is unsafe."""
    # PDEATHSIG fires when the *thread* that forked exits, so only use it from the main thread.
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    return _die_with_parent if _libc() is not None else None


# --------------------------------------------------------------------------- base class


class Service:
    """One local server process with its own working dir, port and log file."""

    name: ClassVar[str] = "service"
    start_timeout: ClassVar[float] = 30.0
    stop_timeout: ClassVar[float] = 15.0
    term_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.port: int = port if port is not None else free_port()
        self.log_path: Path = self.workdir / f"{self.name}.log"
        self.stdout_path: Path = self.log_path  # where the child's stdout/stderr go
        self.proc: subprocess.Popen[bytes] | None = None
        self.last_start_seconds: float | None = None
        self._t0 = 0.0

    # -- hooks for subclasses
    def _prepare(self) -> None:
        """Create config and data before the first launch (idempotent)."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _popen_kwargs(self) -> dict[str, Any]:
        return {}

    def _is_ready(self) -> bool:
        return _port_open(self.port)

    def _after_ready(self) -> None:
        """Run once the server answers (e.g. create a database)."""

    # -- public API
    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.proc.pid if self.running and self.proc is not None else None

    def launch(self) -> None:
        """Prepare and spawn the process without waiting for it to answer."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.monotonic()
        self._prepare()
        log = open(self.stdout_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            kwargs: dict[str, Any] = {
                "stdin": subprocess.DEVNULL,
                "stdout": log,
                "stderr": subprocess.STDOUT,
                "cwd": self.workdir,
                "start_new_session": True,
                "preexec_fn": _pdeathsig_hook(),
            }
            kwargs.update(self._popen_kwargs())
            self.proc = subprocess.Popen(self._command(), **kwargs)
        finally:
            log.close()

    def _log_tail(self) -> str:
        out = f"last log lines ({self.log_path}):\n{_tail(self.log_path)}"
        if self.stdout_path != self.log_path:
            out += f"\nlast output lines ({self.stdout_path}):\n{_tail(self.stdout_path, 10)}"
        return out

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the server answers; raise ServiceError (and stop it) on failure."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.start_timeout)
        while True:
            if self.proc is None:
                raise ServiceError(f"{self.name} was not launched")
            code = self.proc.poll()
            if code is not None:
                raise ServiceError(f"{self.name} exited with code {code} during start; {self._log_tail()}")
            if self._is_ready():
                break
            if time.monotonic() > deadline:
                self.stop()
                limit = timeout if timeout is not None else self.start_timeout
                raise ServiceError(f"{self.name} did not become ready within {limit:.0f}s; {self._log_tail()}")
            time.sleep(0.1)
        self._after_ready()
        self.last_start_seconds = time.monotonic() - self._t0

    def start(self) -> Self:
        """Launch the server and wait until it answers. Safe to call again after stop()."""
        if self.running:
            return self
        self.launch()
        self.wait_ready()
        return self

    def stop(self) -> None:
        """Stop the server: its shutdown signal, then SIGKILL to its process group after a grace period."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.term_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self.stop_timeout)
        # Kill whatever is left in the group (e.g. postgres backends), then reap.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def env(self) -> dict[str, str]:
        """GRIDWATCH_* environment variables describing this server."""
        return {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} port={self.port} {state} dir={self.workdir}>"


# --------------------------------------------------------------------------- Kafka


class Kafka(Service):
    """Single-node KRaft Kafka (combined broker+controller) from jars cached by kafka/fetch.sh."""

    name = "kafka"
    start_timeout = 90.0
    stop_timeout = 20.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        controller_port: int | None = None,
        version: str = KAFKA_VERSION,
        heap: str = "512m",
        extra_config: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.controller_port: int = controller_port if controller_port is not None else free_port()
        self.version = version
        self.heap = heap
        self.extra_config = dict(extra_config or {})
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "server.properties"
        self.log_path = self.workdir / "server.log"  # written by log4j2
        self.stdout_path = self.workdir / "kafka.out"  # the JVM's own output (crashes, JVM warnings)
        self.cluster_id: str | None = None
        self._libs: Path | None = None
        self._cds_tmp: tuple[Path, Path] | None = None

    @property
    def bootstrap(self) -> str:
        """bootstrap.servers value, e.g. "127.0.0.1:41234"."""
        return f"127.0.0.1:{self.port}"

    def config(self) -> dict[str, str]:
        """The server.properties contents this broker runs with."""
        cfg = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "true",
            "num.partitions": "4",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.retention.hours": "24",
        }
        cfg.update(self.extra_config)
        return cfg

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise ServiceError("java not found: Kafka needs a JDK/JRE 17+ on PATH or JAVA_HOME")
        return java

    def _cds_flags(self, main_class: str) -> tuple[list[str], tuple[Path, Path] | None]:
        """Class-data-sharing flags: use the cached archive, or record one at this JVM's exit.

        Returns the JVM flags and, when recording, (temporary, final) archive paths for _publish_cds.
        Saves ~1s per JVM start on 2 cores; GRIDWATCH_KAFKA_CDS=0 turns it off.
        """
        if os.environ.get("GRIDWATCH_KAFKA_CDS", "1") == "0" or self._libs is None:
            return [], None
        java = os.path.realpath(self._java())
        try:
            libs_stamp = (self._libs.parent / ".complete").stat().st_mtime_ns
            key = f"{java}:{os.stat(java).st_mtime_ns}:{self.version}:{libs_stamp}"
        except OSError:
            return [], None
        cds_dir = self._libs.parent / "cds"
        archive = cds_dir / f"{main_class}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.jsa"
        if archive.is_file() and archive.stat().st_size > 0:
            return [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"], None
        cds_dir.mkdir(parents=True, exist_ok=True)
        tmp = cds_dir / f".{archive.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp"
        return [f"-XX:ArchiveClassesAtExit={tmp}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"], (tmp, archive)

    @staticmethod
    def _publish_cds(paths: tuple[Path, Path] | None) -> None:
        """Move an archive recorded at JVM exit into place (atomic; concurrent runs are harmless)."""
        if paths is None:
            return
        tmp, final = paths
        with contextlib.suppress(OSError):
            if tmp.stat().st_size > 0:
                os.replace(tmp, final)
        with contextlib.suppress(OSError):
            tmp.unlink()

    def _java_cmd(self, main_class: str, *args: str, cds: Sequence[str] = ()) -> list[str]:
        assert self._libs is not None
        return [
            self._java(),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            *cds,
            f"-Dkafka.logs.dir={self.workdir}",
            f"-Dlog4j2.configurationFile={KAFKA_LOG4J_CONFIG}",
            "-cp",
            str(self._libs / "*"),
            main_class,
            *args,
        ]

    def _prepare(self) -> None:
        self._libs = ensure_kafka_libs(self.version)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in self.config().items()))
        meta = self.data_dir / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    self.cluster_id = line.split("=", 1)[1].strip()
            return
        # like Kafka's own Uuid.randomUuid(): never begin with "-", which argparse would read as an option
        self.cluster_id = "-"
        while self.cluster_id.startswith("-"):
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cds, cds_tmp = self._cds_flags("kafka.tools.StorageTool")
        with open(self.workdir / "format.log", "wb") as out:
            res = subprocess.run(
                self._java_cmd(
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={self.cluster_id}",
                    "--config",
                    str(self.config_path),
                    "--ignore-formatted",
                    cds=cds,
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                check=False,
            )
        self._publish_cds(cds_tmp)
        if res.returncode != 0:
            raise ServiceError(f"kafka storage format failed:\n{_tail(self.workdir / 'format.log')}")

    def _command(self) -> list[str]:
        cds, self._cds_tmp = self._cds_flags("kafka.Kafka")
        return self._java_cmd("kafka.Kafka", str(self.config_path), cds=cds)

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM), SIGKILL after 20s."""
        super().stop()
        self._publish_cds(self._cds_tmp)
        self._cds_tmp = None

    def _is_ready(self) -> bool:
        if not _port_open(self.port):
            return False
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError:
            try:
                return "Kafka Server started" in self.log_path.read_text(errors="replace")
            except OSError:
                return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0, "socket.timeout.ms": 2000})
        try:
            md = admin.list_topics(timeout=2)
        except Exception:  # KafkaException while the broker is still registering
            return False
        return len(md.brokers) >= 1

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_KAFKA_BOOTSTRAP": self.bootstrap}


# --------------------------------------------------------------------------- Redis


class Redis(Service):
    """Debian's redis-server, no persistence; stop()/start() reuse the same port."""

    name = "redis"
    start_timeout = 15.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        binary: str | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.binary = (
            binary
            or os.environ.get("GRIDWATCH_REDIS_SERVER")
            or shutil.which("redis-server")
            or "/usr/bin/redis-server"
        )

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def _prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ServiceError(f"{self.binary} not found: apt-get install redis-server")

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--loglevel", "notice",
        ]  # fmt: skip

    def _is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_REDIS_URL": self.url}


# --------------------------------------------------------------------------- Postgres


def _pg_bindir() -> Path:
    env = os.environ.get("GRIDWATCH_PG_BIN")
    if env:
        return Path(env)
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    if not dirs:
        raise ServiceError("no /usr/lib/postgresql/*/bin: apt-get install postgresql")

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
        raise ServiceError(f"could not create system user {name!r} to run postgres as non-root") from e


class Postgres(Service):
    """Debian's PostgreSQL in a private cluster: trust auth on 127.0.0.1, database `gridwatch`.

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
    ) -> None:
        super().__init__(workdir, port)
        self.user = user
        self.database = database
        self.bindir = Path(bindir) if bindir is not None else _pg_bindir()
        self._run_as: pwd.struct_passwd | None = None
        self.data_dir: Path = self.workdir / "data"
        self._fallback: Path | None = None

    @property
    def dsn(self) -> str:
        """postgresql://gridwatch@127.0.0.1:PORT/gridwatch"""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

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
                raise ServiceError(f"{self.bindir / tool} not found: apt-get install postgresql")
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
        if (self.data_dir / "PG_VERSION").exists():
            return
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
            raise ServiceError(f"initdb failed:\n{_tail(init_log)}")
        # Create the application database in single-user mode (no network, no race).
        res = subprocess.run(
            [str(self.bindir / "postgres"), "--single", "-D", str(self.data_dir), "-j", "postgres"],
            input=f'CREATE DATABASE "{self.database}" OWNER "{self.user}";\n'.encode(),
            capture_output=True, cwd=self.data_dir, check=False,
            **self._as_user_kwargs(),
        )  # fmt: skip
        if res.returncode != 0 or b"ERROR" in res.stdout + res.stderr:
            raise ServiceError(f"creating database {self.database} failed:\n{(res.stdout + res.stderr).decode()}")

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
        if not _port_open(self.port):
            return False
        res = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", self.user, "-d", self.database],
            check=False, capture_output=True,
        )  # fmt: skip
        return res.returncode == 0

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_POSTGRES_DSN": self.dsn}


# --------------------------------------------------------------------------- Prometheus


class Prometheus(Service):
    """Debian's prometheus with a generated config (1s scrape/eval interval) and lifecycle API."""

    name = "prometheus"
    start_timeout = 30.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[str | os.PathLike[str]] = (),
        scrape_interval: str = "1s",
        binary: str | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.binary = binary or shutil.which("prometheus") or "/usr/bin/prometheus"
        self.promtool: str = shutil.which("promtool") or "/usr/bin/promtool"
        self.targets: dict[str, list[str]] = {k: list(v) for k, v in (targets or {}).items()}
        self.rule_files: list[Path] = [Path(p).resolve() for p in rule_files]
        self.scrape_interval = scrape_interval
        self.config_path = self.workdir / "prometheus.yml"
        self.storage_dir = self.workdir / "data"

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    def render_config(self) -> str:
        """The prometheus.yml text for the current targets and rule files (JSON is valid YAML)."""
        cfg: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
            },
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(tg)}]} for job, tg in self.targets.items()
            ],
        }
        return json.dumps(cfg, indent=2) + "\n"

    def write_config(self) -> Path:
        """Write prometheus.yml into the working dir and return its path."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config())
        return self.config_path

    def start(
        self,
        targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> Self:
        """Start scraping `targets` ({job: ["host:port", ...]}) and evaluating `rule_files`."""
        if targets is not None:
            self.targets = {k: list(v) for k, v in targets.items()}
        if rule_files is not None:
            self.rule_files = [Path(p).resolve() for p in rule_files]
        return super().start()

    def _prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ServiceError(f"{self.binary} not found: apt-get install prometheus")
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    def _command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--storage.tsdb.path={self.storage_dir}",
            "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            "--log.level=warn",
        ]

    def _get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as e:
            return int(e.code), bytes(e.read())

    def _is_ready(self) -> bool:
        try:
            return self._get("/-/ready")[0] == 200
        except OSError:
            return False

    def set_targets(
        self,
        targets: Mapping[str, Sequence[str]],
        rule_files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> None:
        """Replace scrape targets (and optionally rule files) and reload a running server."""
        self.targets = {k: list(v) for k, v in targets.items()}
        if rule_files is not None:
            self.rule_files = [Path(p).resolve() for p in rule_files]
        self.write_config()
        if self.running:
            self.reload()

    def reload(self) -> None:
        """Ask the running server to re-read its config and rule files."""
        req = urllib.request.Request(self.url + "/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise ServiceError(f"prometheus reload failed: HTTP {r.status}")

    def wait_for_targets(self, timeout: float = 20.0, *, healthy: bool = False) -> None:
        """Block until every configured target has been scraped once (and is up, if `healthy`).

        Prometheus applies new target lists through its discovery manager, which batches
        updates every 5s, so the first scrape lands roughly 5-6s after start or reload.
        """
        wanted = {(job, t) for job, tg in self.targets.items() for t in tg}
        deadline = time.monotonic() + timeout
        ok: set[tuple[str, str]] = set()
        while True:
            status, body = self._get("/api/v1/targets?state=active", timeout=5)
            if status == 200:
                seen: dict[tuple[str, str], str] = {}
                for t in json.loads(body)["data"]["activeTargets"]:
                    if not str(t.get("lastScrape", "")).startswith("0001-"):
                        seen[(t["scrapePool"], t["discoveredLabels"]["__address__"])] = t["health"]
                ok = {w for w in wanted if w in seen and (not healthy or seen[w] == "up")}
                if ok == wanted:
                    return
            if time.monotonic() > deadline:
                missing = sorted(wanted - ok)
                raise ServiceError(f"prometheus targets not scraped within {timeout:.0f}s: {missing}")
            time.sleep(0.25)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant PromQL query and return data.result."""
        status, body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=10)
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise ServiceError(f"prometheus query {expr!r} failed: {body.decode(errors='replace')}")
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def check_rules(self, *rule_files: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        """Run `promtool check rules` on the given files (default: the configured ones)."""
        files = [str(p) for p in (rule_files or self.rule_files)]
        return subprocess.run([self.promtool, "check", "rules", *files], capture_output=True, text=True, check=False)

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_PROMETHEUS_URL": self.url}


# --------------------------------------------------------------------------- Stack

_FACTORIES: dict[str, type[Service]] = {
    "kafka": Kafka,
    "redis": Redis,
    "postgres": Postgres,
    "prometheus": Prometheus,
}


class Stack:
    """Several services under one dir (DIR/<name>/), started together and stopped at exit."""

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        only: Iterable[str] = DEFAULT_UP,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        names = list(dict.fromkeys(only))
        unknown = [n for n in names if n not in _FACTORIES]
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; choose from {list(ALL_SERVICES)}")
        ports = dict(ports or {})
        self.services: dict[str, Service] = {
            n: _FACTORIES[n](self.workdir / n, ports.get(n)) for n in ALL_SERVICES if n in names
        }
        self._atexit_registered = False

    def _get(self, name: str) -> Any:
        return self.services.get(name)

    @property
    def kafka(self) -> Kafka | None:
        svc: Kafka | None = self._get("kafka")
        return svc

    @property
    def redis(self) -> Redis | None:
        svc: Redis | None = self._get("redis")
        return svc

    @property
    def postgres(self) -> Postgres | None:
        svc: Postgres | None = self._get("postgres")
        return svc

    @property
    def prometheus(self) -> Prometheus | None:
        svc: Prometheus | None = self._get("prometheus")
        return svc

    def start(self) -> Self:
        """Launch every service (Kafka first, it is slowest), then wait for all; stop all on failure."""
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            for svc in self.services.values():
                svc.launch()
            for svc in self.services.values():
                svc.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every service, in reverse order."""
        for svc in reversed(list(self.services.values())):
            svc.stop()

    def env(self) -> dict[str, str]:
        """GRIDWATCH_* variables for every service in the stack."""
        out: dict[str, str] = {}
        for svc in self.services.values():
            out.update(svc.env())
        return out

    def write_env(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write KEY=VALUE lines (default DIR/endpoints.env) and return the path."""
        target = Path(path) if path is not None else self.workdir / "endpoints.env"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()))
        tmp.replace(target)
        return target

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def _parse_pairs(values: Sequence[str], what: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise SystemExit(f"bad {what} {v!r}: expected NAME=VALUE")
        out.append((key.strip(), val.strip()))
    return out


def _cmd_up(args: argparse.Namespace) -> int:
    workdir = Path(args.dir).resolve()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    ports = {k: int(v) for k, v in _parse_pairs(args.port, "--port")}
    stack = Stack(workdir, only=only, ports=ports)
    prom = stack.prometheus
    if prom is not None:
        targets: dict[str, list[str]] = {}
        for job, target in _parse_pairs(args.prom_target, "--prom-target"):
            targets.setdefault(job, []).append(target)
        prom.targets = targets
        prom.rule_files = [Path(p).resolve() for p in args.rule_file]

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    pidfile = workdir / "services.pid"
    env_path = workdir / "endpoints.env"
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        env_path.unlink()
    t0 = time.monotonic()
    print(f"[services] starting {', '.join(stack.services)} in {workdir} ...", flush=True)
    try:
        stack.start()
    except ServiceError as e:
        print(f"[services] start failed: {e}", file=sys.stderr, flush=True)
        return 1
    pidfile.write_text(f"{os.getpid()}\n")
    stack.write_env(env_path)
    print(f"[services] ready in {time.monotonic() - t0:.1f}s; endpoints in {env_path}:", flush=True)
    for k, v in stack.env().items():
        print(f"  {k}={v}", flush=True)
    print("[services] Ctrl-C (SIGINT) or SIGTERM to stop", flush=True)
    try:
        while not stopping.wait(1.0):
            dead = [n for n, s in stack.services.items() if not s.running]
            if dead:
                print(f"[services] {', '.join(dead)} exited unexpectedly; stopping", file=sys.stderr, flush=True)
                return 1
        return 0
    finally:
        print("[services] stopping ...", flush=True)
        stack.stop()
        for p in (env_path, pidfile):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        print("[services] stopped", flush=True)


def _cmd_down(args: argparse.Namespace) -> int:
    pidfile = Path(args.dir).resolve() / "services.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        print(f"[services] no running stack ({pidfile} missing)")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("[services] stopped")
            return 0
        time.sleep(0.2)
    print(f"[services] pid {pid} still running after 60s", file=sys.stderr)
    return 1


def _cmd_fetch(args: argparse.Namespace) -> int:
    print(ensure_kafka_libs(args.kafka_version))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m tests.infra.services`."""
    parser = argparse.ArgumentParser(prog="python -m tests.infra.services", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start services, write DIR/endpoints.env, run until SIGINT/SIGTERM")
    up.add_argument("--dir", default=".gridwatch", help="working dir (default .gridwatch)")
    up.add_argument("--only", default=",".join(DEFAULT_UP), help=f"comma list from {','.join(ALL_SERVICES)}")
    up.add_argument("--port", action="append", default=[], metavar="NAME=PORT", help="fix a service's port")
    up.add_argument("--prom-target", action="append", default=[], metavar="JOB=HOST:PORT")
    up.add_argument("--rule-file", action="append", default=[], metavar="PATH")
    up.set_defaults(func=_cmd_up)
    down = sub.add_parser("down", help="stop a stack started by `up` in DIR")
    down.add_argument("--dir", default=".gridwatch")
    down.set_defaults(func=_cmd_down)
    fetch = sub.add_parser("fetch", help="fetch and cache the Kafka jars")
    fetch.add_argument("--kafka-version", default=KAFKA_VERSION)
    fetch.set_defaults(func=_cmd_fetch)
    args = parser.parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
