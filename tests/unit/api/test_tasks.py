"""Shutdown of the API's background tasks ends even when a library turns a cancellation into an error it handles."""

from __future__ import annotations

import asyncio

from gridwatch.api import tasks


class Swallowed(Exception):
    """What a client library raises instead of letting a cancellation through."""


async def _read_that_swallows_cancel() -> None:
    try:
        await asyncio.sleep(0.1)  # a Redis round trip, cancelled while in flight
    except asyncio.CancelledError:
        raise Swallowed from None


async def _refresh_loop(errors: list[str], check_stopping: bool) -> None:
    while True:
        try:
            await _read_that_swallows_cancel()
        except Swallowed as exc:
            if check_stopping and tasks.stopping():
                raise asyncio.CancelledError from exc
            errors.append("handled")
        await asyncio.sleep(1.0)  # the refresh interval


def test_a_loop_that_checks_stopping_ends_on_the_first_cancel() -> None:
    async def main() -> tuple[bool, list[str]]:
        errors: list[str] = []
        task = asyncio.create_task(_refresh_loop(errors, check_stopping=True))
        await asyncio.sleep(0.01)
        await tasks.cancel([task], "test", timeout_s=2.0)
        return task.cancelled(), errors

    cancelled, errors = asyncio.run(main())
    assert cancelled and errors == []


def test_a_loop_that_swallows_every_cancel_in_its_read_is_cancelled_again_in_its_sleep() -> None:
    async def main() -> tuple[bool, list[str]]:
        errors: list[str] = []
        task = asyncio.create_task(_refresh_loop(errors, check_stopping=False))
        await asyncio.sleep(0.01)
        await tasks.cancel([task], "test", timeout_s=2.0)
        return task.done(), errors

    done, errors = asyncio.run(main())
    # the first cancel was turned into a handled error; a later one landed in the sleep and ended the task
    assert done and errors


def test_stopping_is_false_outside_a_cancelled_task() -> None:
    async def main() -> bool:
        return tasks.stopping()

    assert asyncio.run(main()) is False
