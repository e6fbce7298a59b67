"""Maintenance windows: cron schedules (UTC) with a duration; open or not at a moment, and the next opening."""

from __future__ import annotations

import datetime as dt

import pytest
from gridwatch_operator.maintenance import Cron, ScheduleError, Window, next_opening, open_until, windows


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_a_saturday_night_window_is_open_from_its_start_for_its_duration_only() -> None:
    saturday_2am = Window.from_spec({"schedule": "0 2 * * 6", "durationMinutes": 240})
    # 2026-12-05 is a Saturday
    assert saturday_2am.open_at(at("2026-12-05T01:59:59")) is None
    assert saturday_2am.open_at(at("2026-12-05T02:00:00")) == at("2026-12-05T06:00")
    assert saturday_2am.open_at(at("2026-12-05T05:59:59")) == at("2026-12-05T06:00")
    assert saturday_2am.open_at(at("2026-12-05T06:00:00")) is None
    assert saturday_2am.open_at(at("2026-12-06T03:00:00")) is None  # Sunday
    assert saturday_2am.next_start(at("2026-12-01T14:00")) == at("2026-12-05T02:00")
    assert saturday_2am.next_start(at("2026-12-05T02:00")) == at("2026-12-12T02:00")  # strictly after


def test_a_window_spanning_midnight_is_found_from_the_next_day() -> None:
    nightly = Window.from_spec({"schedule": "30 23 * * *", "durationMinutes": 90})
    assert nightly.open_at(at("2026-12-02T00:30")) == at("2026-12-02T01:00")
    assert nightly.open_at(at("2026-12-02T01:00")) is None


def test_fields_take_ranges_steps_and_lists_and_day_fields_combine_like_cron() -> None:
    cron = Cron.parse("*/15 1-3,22 * * 1-5")
    assert sorted(cron.minutes) == [0, 15, 30, 45]
    assert sorted(cron.hours) == [1, 2, 3, 22]
    assert sorted(cron.weekdays) == [1, 2, 3, 4, 5]
    assert Cron.parse("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday too
    # both day fields restricted: either matches (cron(8)); the 1st of the month or any Monday
    both = Cron.parse("0 4 1 * 1")
    assert both.day_matches(dt.date(2026, 12, 1))  # a Tuesday, but the 1st
    assert both.day_matches(dt.date(2026, 12, 7))  # a Monday
    assert not both.day_matches(dt.date(2026, 12, 8))
    # only day-of-week restricted: the day of month does not widen it
    assert not Cron.parse("0 4 * * 1").day_matches(dt.date(2026, 12, 1))


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("0 2 * *", "five fields"),
        ("61 2 * * *", "outside 0-59"),
        ("0 5-2 * * *", "reversed"),
        ("0 2 * * sat", "not a number"),
        ("*/0 * * * *", "outside"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(schedule: str, why: str) -> None:
    with pytest.raises(ScheduleError, match=why):
        Window.from_spec({"schedule": schedule, "durationMinutes": 60})


def test_durations_are_bounded() -> None:
    with pytest.raises(ScheduleError, match="durationMinutes"):
        Window.from_spec({"schedule": "0 2 * * *", "durationMinutes": 0})
    with pytest.raises(ScheduleError, match="durationMinutes"):
        Window.from_spec({"schedule": "0 2 * * *", "durationMinutes": 1441})


def test_several_windows_the_latest_close_and_the_earliest_next_opening() -> None:
    both = windows(
        [{"schedule": "0 2 * * *", "durationMinutes": 60}, {"schedule": "30 2 * * *", "durationMinutes": 60}]
    )
    assert open_until(both, at("2026-12-02T02:45")) == at("2026-12-02T03:30")
    assert open_until(both, at("2026-12-02T04:00")) is None
    assert next_opening(both, at("2026-12-02T04:00")) == at("2026-12-03T02:00")


def test_a_schedule_that_never_matches_has_no_next_opening() -> None:
    assert Window.from_spec({"schedule": "0 2 30 2 *"}).next_start(at("2026-12-01T00:00")) is None
