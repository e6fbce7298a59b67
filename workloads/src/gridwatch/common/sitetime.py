"""The site's time zone: IANA names checked once, and local calendar days and hours as epoch boundaries."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

QUARTER_S: Final = 900  # every current UTC offset is a whole number of quarter hours
MAX_BOUNDS: Final = 10_000


class Per(StrEnum):
    """A calendar bucket in the site's zone."""

    HOUR = "hour"
    DAY = "day"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of an IANA name; ValueError saying so when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r} (expected a name such as 'Europe/Berlin' or 'UTC')") from exc


def check_zone(name: str) -> str:
    """The name itself when it is a known IANA time zone; ValueError otherwise (a pydantic validator)."""
    zone(name)
    return name


SiteZone = Annotated[str, AfterValidator(check_zone)]


def local(ts: float, name: str) -> dt.datetime:
    """The site's wall-clock time of an epoch."""
    return dt.datetime.fromtimestamp(ts, zone(name))


def _midnight(day: dt.date, tz: ZoneInfo) -> float:
    # fold=0: a skipped midnight (DST at 00:00) resolves to the first instant of the day, a repeated one to its first
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp()


def start_of_day(ts: float, name: str) -> float:
    """Epoch of the start of the site-local day that contains `ts`."""
    tz = zone(name)
    day = dt.datetime.fromtimestamp(ts, tz).date()
    start = _midnight(day, tz)
    return start if start <= ts else _midnight(day - dt.timedelta(days=1), tz)


def day_bounds(start: float, end: float, name: str) -> list[float]:
    """Local midnights t0 < t1 < ... with t0 <= start and the last >= end: one interval per local day touched.

    A day is 24 hours except on DST changes (23 or 25 in Europe, for example); the interval keeps the true length.
    """
    tz = zone(name)
    day = dt.datetime.fromtimestamp(start_of_day(start, name), tz).date()
    bounds = [_midnight(day, tz)]
    while bounds[-1] < end:
        if len(bounds) > MAX_BOUNDS:
            raise ValueError(f"more than {MAX_BOUNDS} days asked for")
        day += dt.timedelta(days=1)
        bounds.append(_midnight(day, tz))
    if len(bounds) == 1:
        day += dt.timedelta(days=1)
        bounds.append(_midnight(day, tz))
    return bounds


def hour_bounds(start: float, end: float, name: str) -> list[float]:
    """Instants where the site's clock shows a whole hour, from the one at or before `start` to one at or after `end`.

    A fall-back day has 25 of them (the repeated hour twice), a spring-forward day 23.
    """
    tz = zone(name)
    first = math.floor(start / QUARTER_S) * QUARTER_S
    while dt.datetime.fromtimestamp(first, tz).minute != 0:
        first -= QUARTER_S
    bounds = [float(first)]
    t = first
    while bounds[-1] < end or len(bounds) < 2:
        if len(bounds) > MAX_BOUNDS:
            raise ValueError(f"more than {MAX_BOUNDS} hours asked for")
        t += QUARTER_S
        if dt.datetime.fromtimestamp(t, tz).minute == 0:
            bounds.append(float(t))
    return bounds


def bounds(start: float, end: float, name: str, per: Per) -> list[float]:
    """Calendar bucket boundaries covering [start, end) in the site's zone; ValueError past year 9999."""
    try:
        return day_bounds(start, end, name) if per is Per.DAY else hour_bounds(start, end, name)
    except OverflowError as exc:
        raise ValueError("the range reaches past the calendar's last day (9999-12-31)") from exc
