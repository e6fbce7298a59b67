"""The API's side of the optimizer: gathers its inputs from Redis and PostgreSQL, caches its result briefly."""

from __future__ import annotations

import asyncio
import time

from gridwatch.api.db import Database
from gridwatch.api.repository import Repository
from gridwatch.optimizer import data, engine
from gridwatch.optimizer.settings import OptimizerSettings
from gridwatch.optimizer.tariff import Tariff


class Suggestions:
    """Built once in the lifespan; concurrent requests share one computation, reused for `cache_s`."""

    def __init__(self, settings: OptimizerSettings, repo: Repository) -> None:
        self.settings = settings
        self.tariff = Tariff.from_settings(settings)
        self.repo = repo
        self._cached: tuple[float, engine.Result] | None = None
        self._lock = asyncio.Lock()

    async def get(self, db: Database) -> engine.Result:
        """Every suggestion, highest priority first (recomputed when older than the cache time)."""
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.settings.cache_s:
                return self._cached[1]
            result = engine.suggest(await self.inputs(db), self.settings, self.tariff)
            self._cached = (time.monotonic(), result)
            return result

    async def inputs(self, db: Database) -> engine.Inputs:
        """Live sensor states from Redis, machine series and sensor health from the history rollups."""
        now = time.time()
        states = await self.repo.sensors(await self.repo.sensor_ids(None, None))
        async with db.connection() as conn:
            machines = await data.machine_series(conn, db.site, states, self.settings, now)
            health = await data.sensor_health(conn, db.site, states, self.settings, now)
        return engine.Inputs(machines=machines, health=health, now=now)
