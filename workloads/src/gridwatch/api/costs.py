"""Energy priced with the site's tariff: quarter-hour kWh summed into the site's local days or hours."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from gridwatch.api import history_query as query
from gridwatch.api.contract import EnergyBucket, EnergyCost
from gridwatch.common import sitetime
from gridwatch.common.sitetime import Per
from gridwatch.optimizer.tariff import Tariff

PRICING = "each quarter hour's kWh at the tariff price in force at its start, in the site's time zone"


@dataclass(frozen=True)
class Priced:
    """One calendar interval [start, end): the energy metered in it and what it cost."""

    start: float
    end: float
    energy_kwh: float
    cost: float


def price(
    quarters: Sequence[tuple[float, float]],
    bounds: Sequence[float],
    price_at: Callable[[float], float],
) -> list[Priced]:
    """Every interval of `bounds` with its energy and cost; each quarter hour is priced at its start's price.

    `quarters` are (start epoch, kWh) of quarter hours; one before bounds[0] or from bounds[-1] on is left out.
    """
    energy = [0.0] * (len(bounds) - 1)
    cost = [0.0] * (len(bounds) - 1)
    for ts, kwh in quarters:
        i = bisect.bisect_right(bounds, ts) - 1
        if 0 <= i < len(energy):
            energy[i] += kwh
            cost[i] += kwh * price_at(ts)
    return [
        Priced(start=bounds[i], end=bounds[i + 1], energy_kwh=round(energy[i], 6), cost=round(cost[i], 6))
        for i in range(len(energy))
    ]


async def energy_cost(
    conn: psycopg.AsyncConnection[TupleRow],
    site: str,
    zone: str,
    tariff: Tariff,
    fr: float,
    to: float,
    per: Per,
    bounds: Sequence[float],
) -> EnergyCost:
    """The site's energy and cost over [fr, to) per interval of `bounds` (local days or hours of `zone`).

    The one computation behind GET /api/v1/analytics/energy and the gridwatch_api_site_*_today gauges.
    """
    quarters = await query.site_energy_quarters(conn, site, fr, to)
    buckets = price(quarters, bounds, tariff.price_at)
    return EnergyCost(
        site=site,
        timezone=zone,
        currency=tariff.currency,
        per=per.value,
        from_=fr,
        to=to,
        buckets=[EnergyBucket(b.start, b.end, b.energy_kwh, b.cost) for b in buckets],
        total_energy_kwh=round(sum(b.energy_kwh for b in buckets), 6),
        total_cost=round(sum(b.cost for b in buckets), 6),
        pricing=PRICING,
    )


async def today(
    conn: psycopg.AsyncConnection[TupleRow], site: str, zone: str, tariff: Tariff, now: float
) -> EnergyCost:
    """Since the site's local midnight until `now`: what GET /api/v1/analytics/energy answers without parameters."""
    fr = sitetime.start_of_day(now, zone)
    return await energy_cost(conn, site, zone, tariff, fr, now, Per.DAY, sitetime.bounds(fr, now, zone, Per.DAY))
