"""Energy priced with the site's tariff: quarter-hour kWh summed into the site's local days or hours."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass


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
