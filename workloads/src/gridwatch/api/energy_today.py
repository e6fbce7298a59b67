"""Today's energy and cost of the site as gauges, computed in the background by GET /api/v1/analytics/energy's code."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable

import psycopg
import structlog
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gridwatch.api import costs, tasks
from gridwatch.api.contract import EnergyCost
from gridwatch.api.db import Database
from gridwatch.common.metrics import LABELS
from gridwatch.optimizer.tariff import Tariff

log = structlog.get_logger(__name__)
J_PER_KWH = 3.6e6
Compute = Callable[[float], Awaitable[EnergyCost]]


def from_database(db: Database, zone: str, tariff: Tariff) -> Compute:
    """Today's EnergyCost up to `now`, read from PostgreSQL by the same function as the route."""

    async def compute(now: float) -> EnergyCost:
        async with db.connection() as conn:
            return await costs.today(conn, db.site, zone, tariff, now)

    return compute


class EnergyToday:
    """Recomputes today's energy and cost every `interval_s` and hands them to the collector.

    A scrape only reads the last result, so /metrics never waits on PostgreSQL. A failed refresh drops the
    site's figures (no series rather than a stale or zero one); a result older than the collector's max age is
    not exported either (a refresh stuck on an unresponsive server).
    """

    def __init__(self, labels: dict[str, str], compute: Compute, interval_s: float = 60.0) -> None:
        self.labels = labels
        self.compute = compute
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Compute once: keep the result, or drop the site's figures when it fails (PostgreSQL down, a bug)."""
        now = time.time()
        try:
            found = await self.compute(now)
        except Exception:
            COLLECTOR.drop(self.labels)
            raise
        COLLECTOR.put(self.labels, now, found)

    def start(self) -> None:
        """Refresh in the background until stop()."""
        self._task = asyncio.create_task(self._loop(), name="energy-today")

    async def stop(self) -> None:
        """Cancel the refresh task and stop exporting this site."""
        await tasks.cancel([self._task], "energy today")
        self._task = None
        COLLECTOR.drop(self.labels)

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except (psycopg.Error, OSError) as exc:
                if tasks.stopping():
                    raise asyncio.CancelledError from exc
                log.debug("energy today refresh failed", error=str(exc))
            except Exception:  # a bug must not end the task for good: logged, retried next interval
                log.exception("energy today refresh failed unexpectedly")
            await asyncio.sleep(self.interval_s)


class EnergyTodayCollector(Collector):
    """Exports the latest figures of every site served by this process; drops those older than `max_age_s`."""

    def __init__(self, max_age_s: float = 300.0) -> None:
        self.max_age_s = max_age_s
        self._found: dict[tuple[tuple[str, str], ...], tuple[float, EnergyCost]] = {}
        self._lock = threading.Lock()

    def put(self, labels: dict[str, str], taken_at: float, found: EnergyCost) -> None:
        """Keep the newest figures of a site."""
        with self._lock:
            self._found[tuple(labels.items())] = (taken_at, found)

    def drop(self, labels: dict[str, str]) -> None:
        """Stop exporting a site."""
        with self._lock:
            self._found.pop(tuple(labels.items()), None)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        now = time.time()
        with self._lock:
            fresh = [(dict(k), t, f) for k, (t, f) in self._found.items() if now - t <= self.max_age_s]
        names = list(LABELS)
        per_replica = "; one gauge per API replica, aggregate with max by (site)"
        energy = GaugeMetricFamily(
            "gridwatch_api_site_energy_today_joules",
            "Site energy since the site's local midnight, from PostgreSQL history (= /api/v1/analytics/energy "
            "total_energy_kwh x 3.6e6)" + per_replica,
            labels=names,
        )
        cost = GaugeMetricFamily(
            "gridwatch_api_site_cost_today",
            "Site energy cost since the site's local midnight at the site's tariff, in `currency` "
            "(= /api/v1/analytics/energy total_cost)" + per_replica,
            labels=[*names, "currency"],
        )
        day = GaugeMetricFamily(
            "gridwatch_api_site_day_start_timestamp_seconds",
            "The site's local midnight the *_today gauges count from (unix time)" + per_replica,
            labels=names,
        )
        taken = GaugeMetricFamily(
            "gridwatch_api_site_energy_today_timestamp_seconds",
            "When the *_today gauges were computed (unix time)" + per_replica,
            labels=names,
        )
        for labels, taken_at, found in fresh:
            values = [labels[n] for n in names]
            energy.add_metric(values, found.total_energy_kwh * J_PER_KWH)
            cost.add_metric([*values, found.currency], found.total_cost)
            day.add_metric(values, found.from_)
            taken.add_metric(values, taken_at)
        if fresh:
            yield from (energy, cost, day, taken)


COLLECTOR = EnergyTodayCollector()
REGISTRY.register(COLLECTOR)
