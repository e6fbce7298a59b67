"""Maintenance windows: a five-field cron schedule (UTC) that opens a window lasting durationMinutes (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_DURATION_MINUTES = 1440
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_MINUTE = dt.timedelta(minutes=1)


class ScheduleError(ValueError):
    """A schedule that is not five cron fields of numbers, ranges, steps and lists."""


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, stop = low, high
            elif "-" in base:
                a, b = base.split("-", 1)
                start, stop = int(a), int(b)
            else:
                start = int(base)
                stop = high if step_text else start
        except ValueError:
            raise ScheduleError(f"{name} {part!r} is not a number, range (a-b), step (*/n) or list (a,b)") from None
        if step < 1 or not low <= start <= stop <= high:
            raise ScheduleError(f"{name} {part!r} is outside {low}-{high} (or its range is reversed)")
        out.update(range(start, stop + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Cron:
    """minute hour day-of-month month day-of-week; a day matches like cron(8): both day fields when both are set."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 is read as 0)
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        """Parse `m h dom mon dow` (numbers only, like `0 2 * * 6` for Saturdays 02:00 UTC)."""
        parts = text.split()
        if len(parts) != 5:
            raise ScheduleError(f"schedule {text!r} needs five fields (minute hour day-of-month month day-of-week)")
        sets = [_field(p, name, low, high) for p, (name, low, high) in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*")

    def day_matches(self, day: dt.date) -> bool:
        """Whether any minute of `day` can match."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def starts(self, day: dt.date, *, reverse: bool = False) -> Iterable[dt.datetime]:
        """The matching minutes of one day, in order (or newest first)."""
        if not self.day_matches(day):
            return
        for hour in sorted(self.hours, reverse=reverse):
            for minute in sorted(self.minutes, reverse=reverse):
                yield dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Window:
    """A maintenance window: opens at each start the schedule matches, for `minutes` minutes."""

    schedule: str
    minutes: int
    cron: Cron

    @classmethod
    def from_spec(cls, item: Mapping[str, Any]) -> Window:
        """From `{schedule, durationMinutes}` (spec.upgrade.maintenanceWindows[] or the operator's default)."""
        schedule = str(item.get("schedule", ""))
        minutes = int(item.get("durationMinutes", 60))
        if not 1 <= minutes <= MAX_DURATION_MINUTES:
            raise ScheduleError(f"durationMinutes {minutes} is outside 1-{MAX_DURATION_MINUTES}")
        return cls(schedule, minutes, Cron.parse(schedule))

    def open_at(self, now: dt.datetime) -> dt.datetime | None:
        """When the window containing `now` closes, or None when `now` is outside every opening."""
        start = now.replace(second=0, microsecond=0)
        earliest = start - self.minutes * _MINUTE
        day = start.date()
        while day >= earliest.date():
            for s in self.cron.starts(day, reverse=True):
                if earliest < s <= start:
                    return s + self.minutes * _MINUTE
                if s <= earliest:
                    return None
            day -= dt.timedelta(days=1)
        return None

    def next_start(self, now: dt.datetime, horizon_days: int = 400) -> dt.datetime | None:
        """The first opening after `now` (None when the schedule never matches, e.g. 30 February)."""
        day = now.date()
        for _ in range(horizon_days):
            for s in self.cron.starts(day):
                if s > now:
                    return s
            day += dt.timedelta(days=1)
        return None


def windows(items: Iterable[Mapping[str, Any]]) -> tuple[Window, ...]:
    """Parse a list of windows."""
    return tuple(Window.from_spec(item) for item in items)


def open_until(items: Iterable[Window], now: dt.datetime) -> dt.datetime | None:
    """When the currently open window closes (the latest, if several are open); None when none is open."""
    ends = [end for w in items if (end := w.open_at(now)) is not None]
    return max(ends) if ends else None


def next_opening(items: Iterable[Window], now: dt.datetime) -> dt.datetime | None:
    """The earliest start of any window after `now`."""
    starts = [s for w in items if (s := w.next_start(now)) is not None]
    return min(starts) if starts else None
