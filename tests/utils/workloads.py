"""Run Gridwatch workloads as real subprocesses for integration tests (the launcher is gridwatch.local's)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from gridwatch.local.process import free_port, stop_process
from gridwatch.local.workloads import Workload

__all__ = ["Workload", "free_port", "stop_process", "wait_for"]


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
