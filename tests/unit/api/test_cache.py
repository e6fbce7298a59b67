"""The micro-cache shares one computation per key and TTL, also between concurrent misses, and bounds its keys."""

from __future__ import annotations

import asyncio

from gridwatch.api.cache import MicroCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_computation_per_key_and_ttl() -> None:
    clock = Clock()
    cache = MicroCache(0.25, clock=clock)
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        return str(calls).encode()

    async def scenario() -> list[bytes]:
        first = await cache.get("k", compute)
        clock.now += 0.2
        second = await cache.get("k", compute)
        other = await cache.get("other", compute)
        clock.now += 0.1  # "k" is 0.3 s old: recomputed
        third = await cache.get("k", compute)
        return [first, second, other, third]

    assert asyncio.run(scenario()) == [b"1", b"1", b"2", b"3"]


def test_concurrent_misses_wait_for_one_computation() -> None:
    cache = MicroCache(1.0, clock=Clock())
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)  # a Redis round trip, during which more requests arrive
        await asyncio.sleep(0)
        return b"body"

    async def scenario() -> list[bytes]:
        return await asyncio.gather(*(cache.get("k", compute) for _ in range(20)))

    assert asyncio.run(scenario()) == [b"body"] * 20 and calls == 1


def test_a_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache = MicroCache(1.0, clock=Clock())
    attempts = 0

    async def compute() -> bytes:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        if attempts == 1:
            raise ConnectionError("redis down")
        return b"ok"

    async def scenario() -> tuple[list[bytes | BaseException], bytes]:
        results = await asyncio.gather(*(cache.get("k", compute) for _ in range(3)), return_exceptions=True)
        return results, await cache.get("k", compute)

    results, after = asyncio.run(scenario())
    assert all(isinstance(r, ConnectionError) for r in results) and after == b"ok"


def test_ttl_zero_turns_it_off_and_keys_are_bounded() -> None:
    clock = Clock()
    off = MicroCache(0.0, clock=clock)
    bounded = MicroCache(10.0, max_keys=2, clock=clock)
    counter = iter(range(100))

    async def compute() -> bytes:
        return str(next(counter)).encode()

    async def scenario() -> None:
        assert await off.get("k", compute) != await off.get("k", compute)
        for key in ("a", "b", "c"):
            await bounded.get(key, compute)
        assert list(bounded._entries) == ["b", "c"]

    asyncio.run(scenario())
