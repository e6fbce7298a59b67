"""Bounded cancellation of the API's background tasks, so a shutdown (SIGTERM, a test's teardown) always ends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)
STOP_TIMEOUT_S = 5.0  # longest a shutdown waits for cancelled tasks


async def cancel(tasks: Iterable[asyncio.Task[None] | None], what: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Cancel the tasks and wait at most `timeout_s` for them: a task stuck in a Redis or PostgreSQL read that
    swallows its cancellation must not hold up the shutdown (it is logged and left to the loop's close)."""
    pending = {t for t in tasks if t is not None}
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, stuck = await asyncio.wait(pending, timeout=timeout_s)
    if stuck:
        log.warning("background tasks did not stop in time", what=what, tasks=sorted(t.get_name() for t in stuck))
