"""Today's energy and cost gauges: exported from the last computation, dropped (not zeroed) when PostgreSQL fails."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from gridwatch.api import energy_today
from gridwatch.api.contract import EnergyBucket, EnergyCost
from gridwatch.api.energy_today import EnergyToday, EnergyTodayCollector
from prometheus_client import CollectorRegistry, generate_latest

LABELS = {"site": "unit-today", "component": "api"}


def found(kwh: float, cost: float, currency: str = "EUR") -> EnergyCost:
    return EnergyCost(
        site="unit-today", timezone="Europe/Berlin", currency=currency, per="day", from_=1000.0, to=5000.0,
        buckets=[EnergyBucket(1000.0, 5000.0, kwh, cost)], total_energy_kwh=kwh, total_cost=cost, pricing="test",
    )  # fmt: skip


def samples(collector: EnergyTodayCollector) -> dict[str, tuple[dict[str, str], float]]:
    return {
        s.name: (s.labels, s.value)
        for family in collector.collect()
        for s in family.samples
        if s.labels.get("site") == LABELS["site"]
    }


def test_the_gauges_are_the_computation_in_joules_and_the_tariff_currency() -> None:
    collector = EnergyTodayCollector()
    taken = time.time()
    collector.put(LABELS, taken, found(12.5, 3.456789, "CHF"))
    got = samples(collector)
    assert got["gridwatch_api_site_energy_today_joules"] == (LABELS, 12.5 * 3.6e6)
    assert got["gridwatch_api_site_cost_today"] == ({**LABELS, "currency": "CHF"}, 3.456789)
    assert got["gridwatch_api_site_day_start_timestamp_seconds"] == (LABELS, 1000.0)
    assert got["gridwatch_api_site_energy_today_timestamp_seconds"] == (LABELS, taken)


def test_old_figures_are_not_exported() -> None:
    collector = EnergyTodayCollector(max_age_s=60.0)
    collector.put(LABELS, 0.0, found(1.0, 0.2))  # computed in 1970
    assert samples(collector) == {}


def test_the_help_tells_how_to_aggregate_replicas() -> None:
    registry = CollectorRegistry()
    collector = EnergyTodayCollector()
    registry.register(collector)
    collector.put(LABELS, time.time(), found(1.0, 0.2))
    text = generate_latest(registry).decode()
    assert "# TYPE gridwatch_api_site_cost_today gauge" in text
    assert "max by (site)" in text.split("# HELP gridwatch_api_site_cost_today ")[1].split("\n")[0]


class FlakyDatabase:
    """A computation that answers, then fails as PostgreSQL does when it goes away."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    async def __call__(self, now: float) -> EnergyCost:
        self.calls += 1
        if not self.up:
            raise psycopg.OperationalError("connection refused")
        return found(2.0, 0.5)


def test_a_failed_refresh_drops_the_figures_instead_of_keeping_or_zeroing_them() -> None:
    db = FlakyDatabase()
    today = EnergyToday(LABELS, db, interval_s=3600)

    async def main() -> tuple[dict[str, tuple[dict[str, str], float]], dict[str, tuple[dict[str, str], float]]]:
        await today.refresh()
        before = samples(energy_today.COLLECTOR)
        db.up = False
        with pytest.raises(psycopg.OperationalError):
            await today.refresh()
        return before, samples(energy_today.COLLECTOR)

    before, after = asyncio.run(main())
    assert before["gridwatch_api_site_cost_today"][1] == 0.5
    assert after == {}


def test_the_loop_survives_outages_and_stops_when_cancelled() -> None:
    db = FlakyDatabase()
    db.up = False
    today = EnergyToday(LABELS, db, interval_s=0.01)

    async def main() -> tuple[int, dict[str, tuple[dict[str, str], float]], dict[str, tuple[dict[str, str], float]]]:
        today.start()
        while db.calls < 3:  # keeps retrying through the outage
            await asyncio.sleep(0.01)
        db.up = True
        while not samples(energy_today.COLLECTOR):
            await asyncio.sleep(0.01)
        running = samples(energy_today.COLLECTOR)
        await today.stop()
        return db.calls, running, samples(energy_today.COLLECTOR)

    calls, running, stopped = asyncio.run(main())
    assert calls >= 4
    assert running["gridwatch_api_site_energy_today_joules"][1] == 2.0 * 3.6e6
    assert stopped == {}  # a stopped API exports nothing for the site


def test_an_unexpected_error_drops_the_figures_and_the_loop_goes_on() -> None:
    calls: list[float] = []

    async def buggy_once(now: float) -> EnergyCost:
        calls.append(now)
        if len(calls) == 2:
            raise ValueError("a bug")
        return found(1.0, 0.25)

    today = EnergyToday(LABELS, buggy_once, interval_s=3600)

    async def main() -> tuple[bool, bool, bool]:
        await today.refresh()
        first = bool(samples(energy_today.COLLECTOR))
        with pytest.raises(ValueError):
            await today.refresh()
        dropped = not samples(energy_today.COLLECTOR)
        today.interval_s = 0.01
        today.start()
        while len(calls) < 4:
            await asyncio.sleep(0.01)
        back = bool(samples(energy_today.COLLECTOR))
        await today.stop()
        return first, dropped, back

    assert asyncio.run(main()) == (True, True, True)
