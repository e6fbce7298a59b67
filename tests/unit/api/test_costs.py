"""Server-side cost: quarter-hour energy priced with the site's tariff, summed into local calendar intervals."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from gridwatch.api.costs import price
from gridwatch.common.sitetime import day_bounds
from gridwatch.optimizer.settings import OptimizerSettings
from gridwatch.optimizer.tariff import Tariff

ZONE = "Europe/Berlin"


def test_each_quarter_is_priced_at_its_local_tariff_and_lands_in_its_local_day() -> None:
    tariff = Tariff.from_settings(OptimizerSettings(timezone=ZONE, peak_price=0.4, offpeak_price=0.1))
    start = dt.datetime(2026, 3, 28, tzinfo=ZoneInfo(ZONE)).timestamp()
    bounds = day_bounds(start, start + 2 * 86400 - 3600, ZONE)  # 28 March and the 23-hour 29 March
    assert len(bounds) == 3 and bounds[2] - bounds[1] == 23 * 3600
    quarters = [(float(t), 1.0) for t in range(int(bounds[0]), int(bounds[2]), 900)]
    quarters.append((bounds[0] - 900, 5.0))  # before the first day: not counted
    days = price(quarters, bounds, tariff.price_at)
    assert [d.energy_kwh for d in days] == [96.0, 92.0]
    assert days[0].cost == pytest.approx(16 * 0.4 + 80 * 0.1)  # 17-21 h local = 16 quarters at peak
    assert days[1].cost == pytest.approx(16 * 0.4 + 76 * 0.1)  # the lost hour was off-peak
    assert (days[1].start, days[1].end) == (bounds[1], bounds[2])


def test_a_day_without_data_is_still_reported_at_zero() -> None:
    bounds = [0.0, 86400.0, 172800.0]
    days = price([(90000.0, 2.0)], bounds, lambda _ts: 0.25)
    assert [(d.energy_kwh, d.cost) for d in days] == [(0.0, 0.0), (2.0, 0.5)]
