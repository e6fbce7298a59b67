"""The live local stack for browser tests and screenshots: services, workloads, the built UI and a control port."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.history import partitions
from gridwatch.local.process import free_port
from gridwatch.local.stack import Stack
from gridwatch.local.workloads import WORKLOADS as LOCAL_WORKLOADS
from gridwatch.local.workloads import Workload

from tests.utils.workloads import wait_for

ROOT = Path(__file__).resolve().parents[3]
FRONTEND = ROOT / "frontend"
CHROMIUM = os.environ.get("GRIDWATCH_CHROMIUM", "/usr/bin/chromium")
TOKEN = "e2e-operator-token"
# Workloads behind the UI: those of `make up` (gridwatch.local.workloads, in its start order) on these servers.
SERVERS = ("kafka", "redis", "postgres")
# Not the machine's zone (UTC here): the browser tests check the UI shows the site's zone, not the browser's.
SITE_ZONE = "Asia/Tokyo"
HISTORY_DAYS = 9  # of site load before the stack starts, so the forecaster's first step publishes a forecast
HISTORY_STEP_S = 900
# Not the trainer: no browser test exercises training, and its start-up run would re-run the forecaster's backtest
# beside the forecaster's own and could switch the served forecast's version in the middle of a test.
WORKLOADS = tuple(w.name for w in LOCAL_WORKLOADS if set(w.servers) <= set(SERVERS) and w.name != "trainer")
# Start-up bounds (not timings under test): ten Python workloads starting at once on a shared 2-core machine
# took 220 s before the API answered.
START_TIMEOUT_S = 420


def ensure_ui_built() -> None:
    """npm ci + npm run build when frontend/dist is missing or stale."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise RuntimeError("node and npm are needed for the web UI: run `make setup`")
    subprocess.run(["node", str(FRONTEND / "scripts" / "ensure-build.mjs")], check=True, cwd=ROOT)


def ensure_node_modules() -> None:
    """npm ci when the UI's dependencies are missing (the browser tests run from frontend/)."""
    if not (FRONTEND / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], check=True, cwd=FRONTEND)


class UiStack:
    """Kafka, Redis and PostgreSQL plus every workload the UI reads, with the API serving frontend/dist."""

    def __init__(self, workdir: Path, *, site: str = "ui", sensors: int = 400) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.site = site
        self.sensors = sensors
        self.api_port = free_port()
        self.services = Stack(workdir / "services", only=SERVERS)
        self.workloads: dict[str, Workload] = {}
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """Where the UI and the API answer."""
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, name: str) -> dict[str, str]:
        """Environment of one workload."""
        return {
            **self.services.env(),
            "GRIDWATCH_SITE": self.site,
            "GRIDWATCH_TIMEZONE": SITE_ZONE,
            "GRIDWATCH_PARTITIONS": "2",
            "GRIDWATCH_LOG_LEVEL": "INFO",
            "GRIDWATCH_METRICS_PORT": str(free_port()),
            "GRIDWATCH_GRID_HOST": "127.0.0.1",
            "GRIDWATCH_GRID_PORT": str(free_port()),  # the grid ingestor serves its own HTTP port
            "GRIDWATCH_SIM_SENSORS": str(self.sensors),
            "GRIDWATCH_SIM_ANOMALY_RATE": "0.05",
            "GRIDWATCH_API_PORT": str(self.api_port),
            "GRIDWATCH_API_TOKEN": TOKEN,
            "GRIDWATCH_API_STATIC_DIR": str(FRONTEND / "dist"),
            "GRIDWATCH_API_WS_UPDATE_INTERVAL_S": "1.5",
            "GRIDWATCH_API_PRODUCER_TIMEOUT_S": "4",
        }

    def start(self) -> UiStack:
        """Start services and workloads; return once the API serves sensors."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.services.start()
        self.seed_history()
        for name in WORKLOADS:
            self.workloads[name] = Workload(name, self.env(name), self.logs).start()
        self.wait_api()
        wait_for(self._has_sensors, START_TIMEOUT_S, "the processor to score every simulated sensor")
        return self

    def seed_history(self) -> None:
        """Past days of site power in the per-type rollups (one row per 15 min, a daily shape), as if it had run."""
        dsn = self.services.env()["GRIDWATCH_POSTGRES_DSN"]
        end = (math.floor(time.time() / HISTORY_STEP_S) - 4) * HISTORY_STEP_S  # an hour clear of live minutes
        count = HISTORY_DAYS * 86_400 // HISTORY_STEP_S
        steps = [end - HISTORY_DAYS * 86_400 + k * HISTORY_STEP_S for k in range(count)]
        rows = []
        for t in steps:
            hour = (t % 86_400) / 3600.0
            kw = 400.0 * (1.0 + 0.3 * math.sin(2 * math.pi * (hour - 8.0) / 24.0))
            minute = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(t))
            rows.append((self.site, "power", minute, 1, 1, 0, kw, kw, kw, 0.0))
        with connect(dsn, "ui-e2e") as conn:
            migrate(conn)
            if partitions.storage_kind(conn) == "partitioned":
                partitions.ensure_days(conn, set(range(partitions.day_of(steps[0]), partitions.day_of(end) + 1)))
            with conn.cursor() as cur, conn.transaction():
                cur.executemany(
                    "INSERT INTO gw_history_type_minute (site, sensor_type, minute, sensors, readings, anomalies,"
                    " value_sum, value_min, value_max, energy_kwh) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )

    def _has_sensors(self) -> bool:
        stats = httpx.get(f"{self.base_url}/api/dashboard/stats", timeout=3).json()
        return int(stats["total_sensors"]) >= self.sensors

    def wait_api(self) -> None:
        """Block until the API answers /health."""
        wait_for(lambda: httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200, START_TIMEOUT_S, "the API")

    def stop_workload(self, name: str) -> None:
        """Stop one workload (SIGTERM), as a crash or a rollout would."""
        with self._lock:
            self.workloads[name].stop()

    def start_workload(self, name: str) -> None:
        """Start a fresh process of a stopped workload (the API on the same port)."""
        with self._lock:
            self.workloads[name] = Workload(name, self.env(name), self.logs).start()
        if name == "api":
            self.wait_api()

    def stop(self) -> None:
        """Stop workloads, then services."""
        for workload in reversed(list(self.workloads.values())):
            workload.stop()
        self.services.stop()

    def logs_tail(self, lines: int = 30) -> str:
        """The last lines of every workload's log, for a failing test's report."""
        out = []
        for name, workload in self.workloads.items():
            text = workload.log().splitlines()[-lines:] if workload.log_path.exists() else []
            out.append(f"--- {name} ({workload.log_path})\n" + "\n".join(text))
        return "\n".join(out)


CONTROLLABLE = ("api", "simulator")


class _ControlHandler(BaseHTTPRequestHandler):
    stack: UiStack

    def do_POST(self) -> None:
        name, _, action = self.path.strip("/").partition("/")
        if name not in CONTROLLABLE or action not in ("stop", "start"):
            self.send_error(404)
            return
        if action == "stop":
            self.stack.stop_workload(name)
        else:
            self.stack.start_workload(name)
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def control_server(stack: UiStack) -> Iterator[str]:
    """A loopback HTTP endpoint the browser tests call to stop and start the API or the simulator.

    POST /api/stop, /api/start, /simulator/stop, /simulator/start.
    """
    handler = type("Handler", (_ControlHandler,), {"stack": stack})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_playwright(stack: UiStack, control_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `npx playwright test ARGS` against the stack; output is captured for the report."""
    env = {
        **os.environ,
        "GRIDWATCH_UI_BASE_URL": stack.base_url,
        "GRIDWATCH_E2E_CONTROL_URL": control_url,
        "GRIDWATCH_E2E_TOKEN": TOKEN,
        "GRIDWATCH_CHROMIUM": CHROMIUM,
    }
    return subprocess.run(
        ["npx", "--no-install", "playwright", "test", *args],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )


def main() -> int:
    """`make screenshots`: start the stack, refresh docs/screenshots/, stop."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--sensors", type=int, default=600)
    parser.add_argument("--keep", action="store_true", help="keep the state dir for inspection")
    args = parser.parse_args()
    ensure_ui_built()
    ensure_node_modules()
    workdir = Path(tempfile.mkdtemp(prefix="gridwatch-ui-"))
    stack = UiStack(workdir, sensors=args.sensors)
    try:
        print(f"[screenshots] starting the local stack under {workdir} ...", flush=True)
        stack.start()
        with control_server(stack) as control:
            result = run_playwright(stack, control, "--project=screenshots")
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            print(stack.logs_tail(), file=sys.stderr)
        return result.returncode
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
