"""Pinned subprocesses (taskset) and what /proc says about them: CPU seconds and peak RSS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.utils.workloads import stop_process

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _stat_fields(pid: int) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Process ids of every living descendant of `pid` (children, their children, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants, the exited ones included.

    A process's own utime + stime plus cutime + cstime (what its exited, reaped children used), summed over the
    process and every living descendant: e.g. a PostgreSQL postmaster with the backends of connections that
    came and went.
    """
    total = 0
    for p in (pid, *descendants(pid)):
        try:
            fields = _stat_fields(p)
        except OSError:
            continue  # exited (and reaped: its time is now in its parent's cutime)
        total += sum(int(f) for f in fields[11:15])
    return total / _TICK


def peak_rss_bytes(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def pin(pid: int, cpus: str) -> None:
    """Move every thread of a running process onto `cpus` (e.g. "0"); no-op without taskset."""
    if shutil.which("taskset") is not None:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, check=False)


def cpu_count() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


class Pinned:
    """A Python module run as a subprocess, optionally pinned to cores with taskset; output to a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        cpus: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.cpus = cpus if cpus is not None and shutil.which("taskset") is not None else None
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def workload(cls, name: str, env: Mapping[str, str], log_path: Path, cpus: str | None = None) -> Pinned:
        """`gridwatch <name>` (simulator, processor, api)."""
        return cls([sys.executable, "-m", "gridwatch.cli", name], env, log_path, cpus)

    @classmethod
    def module(
        cls, module: str, args: Sequence[str], env: Mapping[str, str], log_path: Path, cpus: str | None = None
    ) -> Pinned:
        """`python -m <module> <args>`."""
        return cls([sys.executable, "-m", module, *args], env, log_path, cpus)

    def start(self) -> Pinned:
        """Start the process."""
        argv = ["taskset", "-c", self.cpus, *self.argv] if self.cpus is not None else self.argv
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        """Process id (taskset execs the command, so this is the workload itself)."""
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        """True while it runs."""
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """CPU seconds used so far."""
        return cpu_seconds(self.pid)

    def peak_rss(self) -> int:
        """Peak RSS in bytes so far."""
        return peak_rss_bytes(self.pid)

    def log(self) -> str:
        """Output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait(self, timeout: float) -> int:
        """Wait for a voluntary exit."""
        assert self.proc is not None
        return int(self.proc.wait(timeout))

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`."""
        if self.proc is None:
            return 0
        return stop_process(self.proc, timeout=timeout)


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll `check` until it returns true; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
