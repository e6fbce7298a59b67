"""Bounded cancellation of the API's background tasks, so a shutdown (SIGTERM, a test's teardown) always ends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)
STOP_TIMEOUT_S = 5.0  # longest a shutdown waits for cancelled tasks
RECANCEL_S = 0.2  # how often a task that is still running is cancelled again


def stopping() -> bool:
    """True when the current task has been asked to stop: a loop that handles an error calls it, so a cancellation
    that a library turned into that error still ends the loop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def cancel(tasks: Iterable[asyncio.Task[None] | None], what: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Cancel the tasks and wait at most `timeout_s` for them: a task stuck in a Redis or PostgreSQL read that
    swallows its cancellation must not hold up the shutdown (it is logged and left to the loop's close)."""
    pending = {t for t in tasks if t is not None and not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    stuck = pending
    while stuck:
        # cancel again on every round: a library that turns one cancellation into an error it handles (seen once
        # in CI: the site-stats task outlived its cancel and then the loop's own, hanging the shutdown for good)
        # gets another chance to be interrupted, most likely in the loop's sleep
        for task in stuck:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, stuck = await asyncio.wait(stuck, timeout=min(RECANCEL_S, left))
    if stuck:
        log.warning("background tasks did not stop in time", what=what, tasks=sorted(t.get_name() for t in stuck))
