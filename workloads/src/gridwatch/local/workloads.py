"""The workloads a local run starts (WORKLOADS) and the one launcher of a `gridwatch <name>` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gridwatch.local.process import stop_process


@dataclass(frozen=True)
class WorkloadSpec:
    """One long-running `gridwatch <name>` command of a local run."""

    name: str
    metrics_offset: int | None  # its /metrics port is the run's metrics base + this; None: serves its own (api)
    servers: tuple[str, ...] = ("kafka", "redis")  # the local servers it needs
    description: str = ""


# In start order: consumers first, the simulator last so nothing misses the first readings. Adding a workload is
# one line here (and its command in gridwatch.cli); `make up`, the UI e2e stack and the tests pick it up.
WORKLOADS: tuple[WorkloadSpec, ...] = (
    WorkloadSpec("processor", 2, description="scores readings, keeps the live state"),
    WorkloadSpec("history", 3, ("kafka", "postgres"), "one-minute rollups in PostgreSQL"),
    WorkloadSpec("alerts", 4, ("kafka", "redis", "postgres"), "alert lifecycle and notifications"),
    WorkloadSpec("forecaster", 5, ("kafka", "redis", "postgres"), "site and machine load forecasts"),
    WorkloadSpec("trainer", 8, ("redis", "postgres"), "retrains the models daily, promotes what beats the served"),
    WorkloadSpec("grid", None, ("kafka",), "grid signals (carbon intensity, prices); no sources locally"),
    WorkloadSpec("ingest", None, ("kafka", "postgres", "mosquitto"), "device telemetry over HTTP and MQTT"),
    WorkloadSpec("storage", 6, ("kafka", "redis", "postgres"), "battery dispatch plans (MILP) every 15 min"),
    WorkloadSpec("rebalancer", 7, ("kafka", "redis", "postgres"), "battery setpoints and flexible-load commands"),
    WorkloadSpec("api", None, ("redis", "postgres"), "REST, WebSocket and the web UI"),
    WorkloadSpec("simulator", 1, ("kafka",), "simulated sensors"),
)


def workload(name: str) -> WorkloadSpec:
    """The spec of a workload by name."""
    for spec in WORKLOADS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown workload {name!r}; known: {[w.name for w in WORKLOADS]}")


class Workload:
    """One `gridwatch <name>` process with its environment and log file."""

    def __init__(self, name: str, env: Mapping[str, str], logdir: Path, *, log_name: str | None = None) -> None:
        self.name = name
        self.env = {**os.environ, **env}
        self.log_path = logdir / (log_name or f"{name}-{int(time.time() * 1000)}.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Workload:
        """Start the process (its output appended to the log file)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gridwatch.cli", self.name],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send a signal and wait for exit (SIGKILL after `timeout`); returns the exit code."""
        if self.proc is None:
            return 0
        return stop_process(self.proc, sig, timeout)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit by itself; returns the exit code."""
        assert self.proc is not None
        return int(self.proc.wait(timeout))

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        self.stop(signal.SIGKILL)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id once started."""
        return None if self.proc is None else self.proc.pid

    def exit_code(self) -> int | None:
        """The exit code once the process has exited, else None."""
        return None if self.proc is None else self.proc.poll()

    def log(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")
