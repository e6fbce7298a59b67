"""Process helpers of the servers and the workloads: free ports, log tails, the one stop sequence, local passwords."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_handed_out: set[int] = set()
_port_lock = threading.Lock()


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, never one this process handed out before."""
    with _port_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise OSError("could not find a free loopback port")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, or "(no log)"."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def cache_root() -> Path:
    """Where fetched artifacts (Kafka's jars) are cached: $GRIDWATCH_CACHE or ~/.cache/gridwatch."""
    env = os.environ.get("GRIDWATCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gridwatch"


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


def wait_pid_gone(pid: int, timeout: float) -> bool:
    """Poll until process `pid` no longer exists; False if it still does after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _die_with_parent() -> None:
    """Child side: ask the kernel to SIGTERM us when the thread that spawned us dies."""
    libc = _libc()
    if libc is not None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def pdeathsig_hook() -> Callable[[], None] | None:
    """A preexec_fn tying a child to this process (no orphaned servers after a SIGKILLed test run), or None.

    PDEATHSIG fires when the *thread* that forked exits, so it is only used from the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    return _die_with_parent if _libc() is not None else None


def stored_secret(path: Path) -> str:
    """A random password kept in `path` (mode 0600): made on first use, the same one on every later run."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value
