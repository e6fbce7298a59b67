"""`make up`: start Kafka, Redis and every Gridwatch workload locally, print the URLs, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from tests.infra.services import Service, ServiceError, Stack

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("processor", "history", "alerts", "api", "simulator")
METRICS_PORTS = {"simulator": 9101, "processor": 9102, "history": 9103, "alerts": 9104}


def say(text: str) -> None:
    """Progress for the person at the terminal."""
    print(f"[gridwatch] {text}", flush=True)


class Runner:
    """Starts the stack and the workloads; stops all of it on a signal."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(args.dir).resolve()
        self.logs = self.dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()
        ports = {
            "kafka": args.kafka_port,
            "redis": args.redis_port,
            "postgres": args.postgres_port,
            "prometheus": args.prometheus_port,
        }
        self.stack = Stack(self.dir / "services", only=("kafka", "redis", "postgres", "prometheus"), ports=ports)
        if self.stack.prometheus is not None:  # scrapes every workload and evaluates the chart's alert rules
            self.stack.prometheus.targets = {
                **{name: [f"127.0.0.1:{port}"] for name, port in METRICS_PORTS.items()},
                "api": [f"{args.host}:{args.api_port}"],
            }
            self.stack.prometheus.rule_files = [ROOT / "charts" / "energy-site" / "rules" / "gridwatch-rules.yaml"]
            self.stack.prometheus.scrape_interval = "5s"

    def env(self, name: str) -> dict[str, str]:
        env = {
            **os.environ,
            **self.stack.env(),
            "GRIDWATCH_SITE": self.args.site,
            "GRIDWATCH_SIM_SENSORS": str(self.args.sensors),
            "GRIDWATCH_API_PORT": str(self.args.api_port),
            "GRIDWATCH_API_HOST": self.args.host,
        }
        if name in METRICS_PORTS:
            env["GRIDWATCH_METRICS_PORT"] = str(METRICS_PORTS[name])
        ui = ROOT / "frontend" / "dist"
        if ui.is_dir():
            env["GRIDWATCH_API_STATIC_DIR"] = str(ui)
        return env

    def start_workload(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "gridwatch.cli", name],
            env=self.env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def build_ui(self) -> None:
        """npm ci + npm run build when frontend/dist is missing or stale; without Node.js the API serves no UI."""
        if shutil.which("node") is None or shutil.which("npm") is None:
            say("Node.js not found: the web UI is not built (install Node.js 20.19+ for it)")
            return
        say("checking the web UI build (npm ci + npm run build when frontend/ changed) ...")
        script = ROOT / "frontend" / "scripts" / "ensure-build.mjs"
        result = subprocess.run(["node", str(script)], cwd=ROOT, check=False)
        if result.returncode != 0:
            say("the web UI build failed; the API runs without it")

    def run(self) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.dir / "up.pid").write_text(f"{os.getpid()}\n")
        say(f"state and logs under {self.dir}")
        self.build_ui()
        say("starting Kafka (KRaft), Redis and PostgreSQL; the first run downloads Kafka from Maven Central ...")
        started = time.monotonic()
        try:
            self.stack.start()
        except ServiceError as exc:
            say(f"could not start the local services: {exc}")
            return 1
        say(
            f"Kafka {self.stack.env().get('GRIDWATCH_KAFKA_BOOTSTRAP')} and Redis ready "
            f"in {time.monotonic() - started:.1f}s"
        )
        for name in WORKLOADS:
            self.start_workload(name)
            say(f"started {name} (log: {self.logs / (name + '.log')})")
        base = f"http://{self.args.host}:{self.args.api_port}"
        say("Gridwatch is up:")
        print(f"    Web UI / API     {base}/", flush=True)
        print(f"    API docs         {base}/docs", flush=True)
        print(f"    Live WebSocket   ws://{self.args.host}:{self.args.api_port}/ws", flush=True)
        print(f"    API metrics      {base}/metrics", flush=True)
        for name, port in METRICS_PORTS.items():
            print(f"    {name + ' metrics':<16} http://127.0.0.1:{port}/metrics", flush=True)
        if self.stack.prometheus is not None:
            print(f"    Prometheus       {self.stack.prometheus.url}/ (alerts: /alerts)", flush=True)
        say("press Ctrl-C to stop everything")
        code = 0
        while not self.stopping.wait(1.0):
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    say(f"{name} exited with {proc.returncode}; last log lines:")
                    print(_tail(self.logs / f"{name}.log"), flush=True)
                    code = 1
                    self.stopping.set()
            if any(not s.running for s in self.stack.services.values()):
                say("a local service stopped unexpectedly")
                code = 1
                self.stopping.set()
        return code

    def stop(self) -> None:
        say("stopping workloads ...")
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in 20s; killing it")
                proc.kill()
        say("stopping Kafka and Redis ...")
        self.stack.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "up.pid").unlink()
        say("stopped")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def down(directory: Path) -> int:
    """Stop a background `make up` through its pid file."""
    pidfile = directory.resolve() / "up.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        say("nothing to stop")
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            say("stopped")
            return 0
        time.sleep(0.3)
    say(f"process {pid} did not stop")
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "down"], nargs="?", default="up")
    parser.add_argument("--dir", default=str(ROOT / ".gridwatch"))
    parser.add_argument("--site", default=os.environ.get("GRIDWATCH_SITE", "local"))
    parser.add_argument("--sensors", type=int, default=int(os.environ.get("GRIDWATCH_SIM_SENSORS", "300")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("GRIDWATCH_API_PORT", "8000")))
    parser.add_argument("--kafka-port", type=int, default=19092)
    parser.add_argument("--redis-port", type=int, default=16379)
    parser.add_argument("--postgres-port", type=int, default=15432)
    parser.add_argument("--prometheus-port", type=int, default=19090)
    args = parser.parse_args()
    if args.command == "down":
        return down(Path(args.dir))
    runner = Runner(args)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runner.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return runner.run()
    finally:
        runner.stop()


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["Service", "main"]
