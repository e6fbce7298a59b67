"""Run Gridwatch workloads as real subprocesses for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Send `sig` (if still running), wait up to `timeout`, then SIGKILL and reap; returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Workload:
    """One `gridwatch <name>` process with its environment and log file."""

    def __init__(self, name: str, env: Mapping[str, str], logdir: Path) -> None:
        self.name = name
        self.env = {**os.environ, **env}
        self.log_path = logdir / f"{name}-{int(time.time() * 1000)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Workload:
        """Start the process."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridwatch.cli", self.name], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send a signal and wait for exit; returns the exit code."""
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

    def log(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.25,
    logs: tuple[Workload, ...] = (),
) -> None:
    """Poll `check` until true or fail with `what` and the tail of the given workloads' logs."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(interval)
    tails = "".join(f"\n--- {w.name} log ---\n{w.log()[-3000:]}" for w in logs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last}){tails}")
