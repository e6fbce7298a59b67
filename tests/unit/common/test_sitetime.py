"""Site time zone: validation, start of the local day and calendar boundaries across DST changes."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from gridwatch.common.sitetime import Per, bounds, check_zone, day_bounds, hour_bounds, start_of_day

BERLIN = "Europe/Berlin"


def at(text: str, name: str = BERLIN) -> float:
    """Epoch of a wall-clock time in a zone."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(name)).timestamp()


def test_check_zone_accepts_iana_names_and_names_the_bad_one() -> None:
    assert check_zone("UTC") == "UTC"
    assert check_zone("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    for bad in ("Mars/Olympus", "Europe/Berlinn", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown IANA time zone"):
            check_zone(bad)


def test_start_of_day_is_local_midnight_not_utc() -> None:
    # 00:30 in Berlin on 2026-07-01 is 22:30 UTC on 30 June: the local day began 30 minutes ago
    ts = at("2026-07-01T00:30")
    assert start_of_day(ts, BERLIN) == at("2026-07-01T00:00")
    assert start_of_day(ts, "UTC") == dt.datetime(2026, 6, 30, tzinfo=dt.UTC).timestamp()
    assert start_of_day(at("2026-07-01T00:00"), BERLIN) == at("2026-07-01T00:00")


def test_spring_forward_day_has_23_hours() -> None:
    noon = at("2026-03-29T12:00")  # CET -> CEST at 02:00
    days = day_bounds(noon, noon + 1, BERLIN)
    assert days == [at("2026-03-29T00:00"), at("2026-03-30T00:00")]
    assert days[1] - days[0] == 23 * 3600
    hours = hour_bounds(days[0], days[1], BERLIN)
    assert len(hours) - 1 == 23
    assert all(b - a == 3600 for a, b in itertools.pairwise(hours))
    assert hours[0] == days[0] and hours[-1] == days[1]


def test_fall_back_day_has_25_hours_with_the_repeated_hour_twice() -> None:
    noon = at("2026-10-25T12:00")  # CEST -> CET at 03:00
    days = day_bounds(noon, noon + 1, BERLIN)
    assert days[1] - days[0] == 25 * 3600
    hours = hour_bounds(days[0], days[1], BERLIN)
    assert len(hours) - 1 == 25
    wall = [dt.datetime.fromtimestamp(h, ZoneInfo(BERLIN)).hour for h in hours[:-1]]
    assert wall.count(2) == 2 and wall.count(3) == 1


def test_a_week_across_dst_has_one_interval_per_local_day() -> None:
    start, end = at("2026-03-27T08:00"), at("2026-04-02T08:00")
    days = bounds(start, end, BERLIN, Per.DAY)
    assert days[0] <= start < days[1] and days[-2] < end <= days[-1]
    lengths = [b - a for a, b in itertools.pairwise(days)]
    assert lengths == [86400, 86400, 82800, 86400, 86400, 86400, 86400]
    assert all(dt.datetime.fromtimestamp(d, ZoneInfo(BERLIN)).time() == dt.time(0) for d in days)


def test_a_skipped_midnight_starts_the_day_at_the_first_instant() -> None:
    # Chile springs forward at 24:00 on 2026-09-05: the local day 2026-09-06 begins at 01:00 (-03)
    zone = "America/Santiago"
    days = day_bounds(at("2026-09-06T12:00", zone), at("2026-09-06T12:00", zone) + 1, zone)
    first = dt.datetime.fromtimestamp(days[0], ZoneInfo(zone))
    assert first.date() == dt.date(2026, 9, 6) and first.hour == 1
    assert days[1] - days[0] == 23 * 3600


def test_half_hour_zones_get_local_hours() -> None:
    zone = "Asia/Kolkata"  # UTC+05:30
    hours = hour_bounds(at("2026-05-01T10:10", zone), at("2026-05-01T12:00", zone), zone)
    assert [dt.datetime.fromtimestamp(h, ZoneInfo(zone)).strftime("%H:%M") for h in hours] == [
        "10:00",
        "11:00",
        "12:00",
    ]


def test_the_end_of_the_calendar_is_a_value_error_not_a_crash() -> None:
    last = dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC).timestamp()
    with pytest.raises(ValueError, match="9999-12-31"):
        bounds(last - 3600, last, "UTC", Per.DAY)
