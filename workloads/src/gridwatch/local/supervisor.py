"""Keeps workloads running: a crashed one is restarted after a growing backoff and the crash is logged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol


class Process(Protocol):
    """What the supervisor needs of a started workload (gridwatch.local.workloads.Workload is one)."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def exit_code(self) -> int | None: ...

    def stop(self) -> int: ...


@dataclass
class Child:
    """A supervised workload: its current process and restart bookkeeping."""

    name: str
    process: Process
    started_at: float
    restarts: int = 0
    backoff_s: float = 0.0
    restart_at: float | None = None  # set while it waits to be restarted
    last_exit: int | None = None


@dataclass
class Supervisor:
    """Restarts a workload that exits on its own: after 1 s, doubling up to 30 s, back to 1 s once one ran 60 s.

    One crash never takes the rest down: the servers and the other workloads keep running. `poll()` is called
    from the runtime's loop; `clock` is injectable so the policy is tested without sleeping.
    """

    launch: Callable[[str], Process]
    report: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    min_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    stable_after_s: float = 60.0
    on_crash: Callable[[Child], None] | None = None
    children: dict[str, Child] = field(default_factory=dict)

    def start(self, names: Iterable[str]) -> None:
        """Start each workload once."""
        for name in names:
            self.children[name] = Child(name, self.launch(name), self.clock())

    def poll(self) -> None:
        """Notice exits, schedule restarts with backoff, and restart those whose backoff has passed."""
        now = self.clock()
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.process = self.launch(child.name)
                    child.started_at, child.restart_at = now, None
                    child.restarts += 1
                    self.report(f"restarted {child.name} (restart {child.restarts})")
                continue
            code = child.process.exit_code()
            if code is None:
                if now - child.started_at >= self.stable_after_s:
                    child.backoff_s = 0.0
                continue
            ran = now - child.started_at
            stable = ran >= self.stable_after_s
            child.backoff_s = self.min_backoff_s if stable or child.backoff_s == 0 else child.backoff_s * 2
            child.backoff_s = min(child.backoff_s, self.max_backoff_s)
            child.restart_at = now + child.backoff_s
            child.last_exit = code
            self.report(f"{child.name} exited with {code} after {ran:.1f}s; restarting in {child.backoff_s:.0f}s")
            if self.on_crash is not None:
                self.on_crash(child)

    def stop(self) -> None:
        """Stop every workload (SIGTERM, then SIGKILL), in reverse start order."""
        for child in reversed(list(self.children.values())):
            if child.restart_at is None:
                child.process.stop()

    def status(self) -> dict[str, dict[str, object]]:
        """Per workload: running or waiting to restart, its pid, restarts so far, last exit code."""
        return {
            c.name: {
                "state": "restarting" if c.restart_at is not None else "running",
                "pid": None if c.restart_at is not None else c.process.pid,
                "restarts": c.restarts,
                "last_exit": c.last_exit,
            }
            for c in self.children.values()
        }
