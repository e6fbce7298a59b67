"""The connect snapshot is read once per update period and shared by every client connecting meanwhile."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast

from gridwatch.api.live import LiveHub
from gridwatch.api.repository import Repository


class CountingRepo:
    """Stands in for the Redis repository (pure logic under test: sharing, not Redis)."""

    def __init__(self) -> None:
        self.reads = 0

    async def top_sensors(self, limit: int) -> list[Any]:
        self.reads += 1
        for _ in range(3):  # a Redis round trip, during which more clients arrive
            await asyncio.sleep(0)
        return []

    async def stats(self) -> dict[str, Any]:
        return {"total_sensors": self.reads}

    async def producer_status(self) -> dict[str, Any]:
        return {"connected": True}


def test_a_reconnect_storm_costs_one_read_per_update_period() -> None:
    async def scenario() -> tuple[int, list[bytes], int, bytes]:
        repo = CountingRepo()
        now = [1000.0]
        labels = {"site": "s", "component": "api"}
        hub = LiveHub(cast(Any, None), cast(Repository, repo), "ch", 0.2, labels, clock=lambda: now[0])
        storm = await asyncio.gather(*(hub.snapshot(100) for _ in range(50)))
        now[0] += 0.1  # within the update period: still the shared snapshot
        await hub.snapshot(100)
        after_storm = repo.reads
        now[0] += 0.15  # one update period after the first read the next client gets a fresh read
        later = await hub.snapshot(100)
        return after_storm, storm, repo.reads, later

    after_storm, storm, reads, later = asyncio.run(scenario())
    assert after_storm == 1 and len(set(storm)) == 1
    body = json.loads(storm[0])
    assert body["type"] == "snapshot" and body["producer"]["connected"] is True and body["ts"] <= time.time()
    assert reads == 2 and json.loads(later)["stats"]["total_sensors"] == 2


def test_a_different_limit_is_not_served_from_the_shared_snapshot() -> None:
    async def scenario() -> int:
        repo = CountingRepo()
        hub = LiveHub(cast(Any, None), cast(Repository, repo), "ch", 10.0, {"site": "s", "component": "api"})
        await hub.snapshot(100)
        await hub.snapshot(10)
        return repo.reads

    assert asyncio.run(scenario()) == 2
