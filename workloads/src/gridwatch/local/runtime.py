"""`gridwatch local up|down|status`: the servers, every workload under the supervisor, the URLs, a clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psycopg

from gridwatch.common.db.connection import connect
from gridwatch.common.db.migrate import MigrationError, migrate
from gridwatch.common.db.roles import WORKLOAD_GRANTS, RoleError, apply_grants
from gridwatch.local.process import stored_secret, tail, wait_pid_gone
from gridwatch.local.server import ServerError
from gridwatch.local.stack import Stack
from gridwatch.local.supervisor import Child, Supervisor
from gridwatch.local.workloads import WORKLOADS, Workload, WorkloadSpec, workload

UP_MARK = "Gridwatch is up"
SERVERS = ("kafka", "redis", "postgres", "prometheus", "mosquitto")


def say(text: str) -> None:
    """Progress for the person at the terminal."""
    print(f"[gridwatch] {text}", flush=True)


# The local run's battery (sized for the default 300 simulated sensors' few MW), used unless the environment sets one.
LOCAL_BATTERY = {
    "GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH": "2000",
    "GRIDWATCH_ANALYTICS_BATTERY_POWER_KW": "800",
    "GRIDWATCH_SIM_ASSETS": "true",
}


@dataclass
class Options:
    """How `gridwatch local up` runs: where its state lives, the site, and every port."""

    dir: Path = Path(".gridwatch")
    site: str = "local"
    sensors: int = 300
    host: str = "127.0.0.1"
    api_port: int = 8000
    metrics_base: int = 9100
    ports: dict[str, int] = field(
        default_factory=lambda: {
            "kafka": 19092,
            "redis": 16379,
            "postgres": 15432,
            "prometheus": 19090,
            "mosquitto": 11883,
        }
    )
    ingest_port: int = 8010
    grid_port: int = 8020
    ui_dir: Path = Path("frontend")
    rule_files: tuple[Path, ...] = (Path("charts/energy-site/rules/gridwatch-rules.yaml"),)
    workloads: tuple[str, ...] = tuple(w.name for w in WORKLOADS)

    @property
    def state(self) -> Path:
        """The state dir, absolute."""
        return self.dir.resolve()


class Runtime:
    """Starts the servers and the workloads; supervises them until a signal; stops all of it."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.dir = opts.state
        self.logs = self.dir / "logs"
        self.stopping = threading.Event()
        self.stack = Stack(self.dir / "services", only=SERVERS, ports=opts.ports)
        if self.stack.redis is not None:  # passwords, generated once into the state dir (docs/security.md)
            self.stack.redis.password = stored_secret(self.secrets / "redis-password")
        if self.stack.postgres is not None:  # scram-sha-256 instead of trust, same reason
            self.stack.postgres.password = stored_secret(self.secrets / "postgres-password")
        prom = self.stack.prometheus
        if prom is not None:  # scrapes every workload and evaluates the chart's alert rules
            prom.targets = {
                **{w.name: [f"127.0.0.1:{self.metrics_port(w.name)}"] for w in self.specs if w.metrics_offset},
                "api": [f"{opts.host}:{opts.api_port}"],
                # ingest and grid serve /metrics on their HTTP ports, like the API
                **{n: [f"{opts.host}:{p}"] for n, p in self.http_ports.items() if n in opts.workloads},
            }
            prom.rule_files = [p.resolve() for p in opts.rule_files if p.exists()]
            prom.scrape_interval = "5s"
        self.supervisor = Supervisor(self.launch, say, on_crash=self._show_crash)
        self.postgres_dsns: dict[str, str] = {}  # workload -> the DSN of its own least-privilege role

    @property
    def secrets(self) -> Path:
        """Where the local servers' generated passwords live (one 0600 file each)."""
        return self.dir / "secrets"

    @property
    def specs(self) -> list[WorkloadSpec]:
        """The specs of the workloads this run starts."""
        return [workload(n) for n in self.opts.workloads]

    @property
    def http_ports(self) -> dict[str, int]:
        """HTTP ports of the workloads that serve their own (besides the API)."""
        return {"ingest": self.opts.ingest_port, "grid": self.opts.grid_port}

    def metrics_port(self, name: str) -> int:
        """The fixed /metrics port of a workload in this run."""
        offset = workload(name).metrics_offset
        assert offset is not None
        return self.opts.metrics_base + offset

    def env(self, name: str) -> dict[str, str]:
        """The environment of one workload."""
        o = self.opts
        env = {
            **self.stack.env(),
            "GRIDWATCH_SITE": o.site,
            "GRIDWATCH_SIM_SENSORS": str(o.sensors),
            "GRIDWATCH_API_PORT": str(o.api_port),
            "GRIDWATCH_API_HOST": o.host,
            "GRIDWATCH_METRICS_HOST": "127.0.0.1",  # locally, metrics stay on loopback
            "GRIDWATCH_INGEST_HOST": o.host,
            "GRIDWATCH_INGEST_PORT": str(o.ingest_port),
            "GRIDWATCH_INGEST_MQTT_ENABLED": str(self.stack.mosquitto is not None).lower(),
            "GRIDWATCH_GRID_HOST": o.host,
            "GRIDWATCH_GRID_PORT": str(o.grid_port),
        }
        tokens = self.dir / "ingest-tokens"
        if tokens.exists():  # `gridwatch ingest-token <gateway>` lines; re-read when the file changes
            env["GRIDWATCH_INGEST_TOKENS_FILE"] = str(tokens)
        # a demo battery for the storage optimizer, the rebalancer and the simulator's assets, unless one is set
        for key, value in LOCAL_BATTERY.items():
            env[key] = os.environ.get(key, value)
        if workload(name).metrics_offset is not None:
            env["GRIDWATCH_METRICS_PORT"] = str(self.metrics_port(name))
        if self.postgres_dsns:  # provisioned: its own role, or no database at all (simulator, grid)
            env.pop("GRIDWATCH_POSTGRES_DSN", None)
            if name in self.postgres_dsns:
                env["GRIDWATCH_POSTGRES_DSN"] = self.postgres_dsns[name]
        dist = o.ui_dir / "dist"
        if dist.is_dir():
            env["GRIDWATCH_API_STATIC_DIR"] = str(dist.resolve())
        return env

    def provision_postgres(self) -> None:
        """What `gridwatch migrate` does on a cluster: one scram login role per workload that uses PostgreSQL
        (gw_<workload>, password in secrets/postgres-<workload>), the migrations as the owner, then each role's
        grants; the workloads then connect as their own role, never as the owner (docs/security.md)."""
        pg = self.stack.postgres
        if pg is None:
            return
        roles: dict[str, str] = {}
        for name in self.opts.workloads:
            if name in WORKLOAD_GRANTS:
                role, password = f"gw_{name}", stored_secret(self.secrets / f"postgres-{name}")
                pg.ensure_login_role(role, password)
                roles[name] = role
                self.postgres_dsns[name] = pg.role_dsn(role, password)
        with connect(pg.dsn, "migrate") as conn:
            applied = migrate(conn)
            apply_grants(conn, roles)
        say(f"PostgreSQL: migrations {', '.join(applied) or 'current'}; roles {', '.join(roles.values())}")

    def launch(self, name: str) -> Workload:
        """Start one workload, its output appended to logs/<name>.log."""
        return Workload(name, self.env(name), self.logs, log_name=f"{name}.log").start()

    def _show_crash(self, child: Child) -> None:
        print(tail(self.logs / f"{child.name}.log", 15), flush=True)

    def build_ui(self) -> None:
        """npm ci + npm run build when the UI's dist is missing or stale; without Node.js the API serves no UI."""
        script = self.opts.ui_dir / "scripts" / "ensure-build.mjs"
        if not script.exists():
            return
        if shutil.which("node") is None or shutil.which("npm") is None:
            say("Node.js not found: the web UI is not built (install Node.js 20.19+ for it)")
            return
        say("checking the web UI build (npm ci + npm run build when frontend/ changed) ...")
        if subprocess.run(["node", str(script)], check=False).returncode != 0:
            say("the web UI build failed; the API runs without it")

    def write_status(self, state: str) -> None:
        """DIR/status.json: what `gridwatch local status` prints."""
        doc = {
            "state": state,
            "pid": os.getpid(),
            "servers": {
                n: {"pid": s.pid, "port": s.port, "running": s.running} for n, s in self.stack.services.items()
            },
            "workloads": self.supervisor.status(),
            "api": f"http://{self.opts.host}:{self.opts.api_port}/",
        }
        tmp = self.dir / "status.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(self.dir / "status.json")

    def print_urls(self) -> None:
        """Where everything answers."""
        o = self.opts
        base = f"http://{o.host}:{o.api_port}"
        print(f"    Web UI / API       {base}/", flush=True)
        print(f"    API docs           {base}/docs", flush=True)
        print(f"    Live WebSocket     ws://{o.host}:{o.api_port}/ws", flush=True)
        print(f"    API metrics        {base}/metrics", flush=True)
        for name, port in self.http_ports.items():
            if name in o.workloads:
                print(f"    {name + ' (HTTP)':<18} http://{o.host}:{port}/metrics", flush=True)
        for name in o.workloads:
            if workload(name).metrics_offset is not None:
                print(f"    {name + ' metrics':<18} http://127.0.0.1:{self.metrics_port(name)}/metrics", flush=True)
        if self.stack.prometheus is not None:
            print(f"    Prometheus         {self.stack.prometheus.url}/ (alerts: /alerts)", flush=True)
        print(f"    state and logs     {self.dir}", flush=True)
        print(f"    server passwords   {self.secrets}/ (redis-cli -p PORT --askpass)", flush=True)

    def run(self) -> int:
        """Until a signal: keep every workload up (restarts with backoff) and stop if a server dies."""
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.dir / "up.pid").write_text(f"{os.getpid()}\n")
        say(f"state and logs under {self.dir}")
        self.build_ui()
        say("starting Kafka (KRaft), Redis, PostgreSQL, Prometheus and Mosquitto; the first run downloads Kafka ...")
        started = time.monotonic()
        try:
            self.stack.start()
        except ServerError as exc:
            say(f"could not start the local servers: {exc}")
            return 1
        say(f"servers ready in {time.monotonic() - started:.1f}s")
        try:
            self.provision_postgres()
        except (psycopg.Error, MigrationError, RoleError) as exc:
            say(f"could not migrate PostgreSQL and grant the workload roles: {exc}")
            return 1
        self.supervisor.start(self.opts.workloads)
        for name in self.opts.workloads:
            say(f"started {name} (log: {self.logs / (name + '.log')})")
        self.write_status("up")
        say(f"{UP_MARK}:")
        self.print_urls()
        say("a crashed workload is restarted with backoff; press Ctrl-C to stop everything")
        while not self.stopping.wait(1.0):
            self.supervisor.poll()
            dead = [n for n, s in self.stack.services.items() if not s.running]
            if dead:
                say(f"server {', '.join(dead)} stopped unexpectedly; stopping everything")
                return 1
            self.write_status("up")
        return 0

    def stop(self) -> None:
        """Workloads first (SIGTERM, SIGKILL after 20 s), then the servers."""
        say("stopping workloads ...")
        self.supervisor.stop()
        say("stopping the servers ...")
        self.stack.stop()
        for name in ("up.pid", "status.json"):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / name).unlink()
        say("stopped")


def argv(opts: Options) -> list[str]:
    """The `gridwatch local up` arguments that reproduce `opts`."""
    out = ["--dir", str(opts.state), "--site", opts.site, "--sensors", str(opts.sensors)]
    out += ["--api-port", str(opts.api_port), "--metrics-base", str(opts.metrics_base)]
    for name, port in opts.ports.items():
        out += [f"--{name}-port", str(port)]
    return out


def up(opts: Options) -> int:
    """Run in the foreground until SIGINT/SIGTERM/SIGHUP."""
    runtime = Runtime(opts)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runtime.stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        return runtime.run()
    finally:
        runtime.stop()


def running_pid(state: Path) -> int | None:
    """The pid of a live `gridwatch local up` using `state`, if any."""
    try:
        pid = int((state / "up.pid").read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def up_detached(opts: Options, argv: list[str], timeout: float = 600) -> int:
    """Start `gridwatch local up ARGV` in its own session (log in DIR/up.log) and wait until it is up.

    The child gets no descriptor of ours (close_fds, stdin from /dev/null), so a caller reading our output,
    e.g. through a pipe, sees it end when we return.
    """
    state = opts.state
    state.mkdir(parents=True, exist_ok=True)
    if running_pid(state) is not None:
        say(f"already running (pid {running_pid(state)}); `gridwatch local down` stops it")
        return 1
    log_path = state / "up.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "gridwatch.cli", "local", "up", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    shown = 0
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        sys.stdout.write(text[shown:])
        sys.stdout.flush()
        shown = len(text)
        if UP_MARK in text and (state / "status.json").exists():
            say(f"running in the background (pid {child.pid}); `make down` stops it")
            return 0
        if child.poll() is not None:
            say(f"`gridwatch local up` exited with {child.returncode}; see {log_path}")
            return 1
        time.sleep(0.5)
    say(f"not up after {timeout:.0f}s; see {log_path}")
    return 1


def down(opts: Options, timeout: float = 90) -> int:
    """Stop a background run through its pid file."""
    pid = running_pid(opts.state)
    if pid is None:
        say("nothing to stop")
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_pid_gone(pid, timeout):
        say("stopped")
        return 0
    say(f"process {pid} did not stop in {timeout:.0f}s")
    return 1


def status(opts: Options) -> int:
    """Print what runs: servers and workloads with their restarts; exit 1 when nothing runs."""
    pid = running_pid(opts.state)
    path = opts.state / "status.json"
    if pid is None or not path.exists():
        say("not running")
        return 1
    doc = json.loads(path.read_text())
    say(f"{doc['state']} (pid {pid}); API {doc['api']}")
    for name, s in doc["servers"].items():
        print(f"    {name:<12} {'running' if s['running'] else 'STOPPED':<10} port {s['port']}", flush=True)
    for name, w in doc["workloads"].items():
        extra = f", last exit {w['last_exit']}" if w["last_exit"] is not None else ""
        print(f"    {name:<12} {w['state']:<10} restarts {w['restarts']}{extra}", flush=True)
    return 0
