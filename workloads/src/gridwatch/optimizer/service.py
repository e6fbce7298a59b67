"""Computes every suggestion from live state and history, cached for a few seconds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gridwatch.api.db import Database
from gridwatch.api.repository import Repository
from gridwatch.optimizer import data, rules
from gridwatch.optimizer.settings import OptimizerSettings
from gridwatch.optimizer.tariff import Tariff


class Optimizer:
    """Runs the four rules on demand; concurrent requests share one computation."""

    def __init__(self, settings: OptimizerSettings) -> None:
        self.settings = settings
        self.tariff = Tariff.from_settings(settings)
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def suggestions(self, db: Database, repo: Repository) -> dict[str, Any]:
        """All suggestions, highest priority first (recomputed when older than the cache time)."""
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.settings.cache_s:
                return self._cached[1]
            result = await self.compute(db, repo)
            self._cached = (time.monotonic(), result)
            return result

    async def compute(self, db: Database, repo: Repository) -> dict[str, Any]:
        """Gather the inputs and run every rule."""
        s = self.settings
        now = time.time()
        states = await repo.sensors(await repo.sensor_ids(None, None))
        async with db.connection() as conn:
            machines = await data.machine_series(conn, db.site, states, s, now)
            health = await data.sensor_health(conn, db.site, states, s, now)
        found = [
            *rules.peak_shifting(machines, self.tariff, s),
            *rules.maintenance(health, rules.energy_cost(machines, self.tariff), s, self.tariff.currency),
            *rules.efficiency(machines, self.tariff, s),
            *rules.operational(machines, self.tariff, s),
        ]
        found.sort(key=lambda x: (-x.priority, x.id))
        return {
            "generated_at": now,
            "currency": self.tariff.currency,
            "window_hours": s.window_hours,
            "items": [x.to_json() for x in found],
        }
