"""Server-side cost: quarter-hour energy priced with the site's tariff, summed into local calendar intervals."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from gridwatch.api.costs import price
from gridwatch.common.sitetime import day_bounds, hour_bounds
from gridwatch.optimizer.settings import OptimizerSettings, Period
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


def quarters_of(bounds: list[float], kwh: float = 1.0) -> list[tuple[float, float]]:
    return [(float(t), kwh) for t in range(int(bounds[0]), int(bounds[-1]), 900)]


def local_ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(ZONE)).timestamp()


def test_the_quarters_either_side_of_a_tariff_boundary_take_their_own_price() -> None:
    tariff = Tariff.from_settings(OptimizerSettings(timezone=ZONE, peak_price=0.4, offpeak_price=0.1))
    start, end = local_ts("2026-06-10T16:45"), local_ts("2026-06-10T21:15")
    hours = price(quarters_of([start, end]), [start, local_ts("2026-06-10T17:00"), local_ts("2026-06-10T21:00"), end],
                  tariff.price_at)  # fmt: skip
    assert [(h.energy_kwh, h.cost) for h in hours] == [(1.0, 0.1), (16.0, pytest.approx(6.4)), (1.0, 0.1)]


def night_tariff() -> Tariff:
    night = Period(name="night", start_hour=22, end_hour=6, price=0.1)
    day = Period(name="day", start_hour=6, end_hour=22, price=0.3)
    return Tariff.from_settings(OptimizerSettings(timezone=ZONE, tariff_periods=[night, day]))


@pytest.mark.parametrize(
    ("day", "hours", "night_hours"),
    [
        ("2026-03-29", 23, 7),  # spring forward: 02:00-03:00 does not exist, so the night is an hour short
        ("2026-10-25", 25, 9),  # fall back: 02:00-03:00 happens twice, both at the night price
        ("2026-06-10", 24, 8),
    ],
)
def test_a_rate_crossing_midnight_on_dst_days_counts_the_hours_the_clock_really_showed(
    day: str, hours: int, night_hours: int
) -> None:
    start = local_ts(f"{day}T00:00")
    bounds = day_bounds(start, start + 1.0, ZONE)
    assert bounds[1] - bounds[0] == hours * 3600
    (priced,) = price(quarters_of(bounds), bounds, night_tariff().price_at)
    assert priced.energy_kwh == 4 * hours
    assert priced.cost == pytest.approx(4 * night_hours * 0.1 + 4 * (hours - night_hours) * 0.3)


def test_the_repeated_hour_of_a_fall_back_day_is_two_hour_buckets_with_their_own_cost() -> None:
    start = local_ts("2026-10-25T00:00")
    bounds = hour_bounds(start, start + 25 * 3600 - 1, ZONE)
    assert len(bounds) - 1 == 25
    hours = price(quarters_of(bounds), bounds, night_tariff().price_at)
    local = [dt.datetime.fromtimestamp(h.start, ZoneInfo(ZONE)) for h in hours]
    assert [t.hour for t in local[:5]] == [0, 1, 2, 2, 3] and local[2].utcoffset() != local[3].utcoffset()
    assert all(h.energy_kwh == 4.0 for h in hours)
    assert [h.cost for h in hours[:7]] == pytest.approx([0.4] * 7)  # 00:00 to 06:00 local: seven hour buckets
    assert hours[7].cost == pytest.approx(1.2) and local[7].hour == 6


def test_weekday_periods_leave_the_weekend_at_the_cheapest_price() -> None:
    peak = Period(name="peak", start_hour=8, end_hour=20, price=0.5, days=(0, 1, 2, 3, 4))
    base = Period(name="base", start_hour=0, end_hour=24, price=0.3, days=(0, 1, 2, 3, 4))
    tariff = Tariff.from_settings(OptimizerSettings(timezone=ZONE, tariff_periods=[peak, base]))
    friday, saturday = local_ts("2026-06-12T12:00"), local_ts("2026-06-13T12:00")
    assert tariff.price_at(friday) == 0.5
    assert tariff.price_at(saturday) == 0.3  # no period covers it: the cheapest price
