"""Time-of-use tariff: the price of a kWh at an instant, in the site's time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gridwatch.optimizer.settings import OptimizerSettings, Period


def _covers(start: float, end: float, hour: float) -> bool:
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end  # crosses midnight


@dataclass(frozen=True)
class Tariff:
    """Periods checked in order; an instant no period covers costs the cheapest price."""

    periods: tuple[Period, ...]
    currency: str = "EUR"
    zone: str = "UTC"

    @classmethod
    def from_settings(cls, s: OptimizerSettings) -> Tariff:
        """The configured periods, or the two-rate tariff (peak hours and the rest)."""
        periods: Sequence[Period] = s.tariff_periods or (
            Period(name="peak", start_hour=s.peak_start_hour, end_hour=s.peak_end_hour, price=s.peak_price),
            Period(name="off-peak", start_hour=s.peak_end_hour % 24, end_hour=s.peak_start_hour, price=s.offpeak_price),
        )
        return cls(tuple(periods), s.currency, s.timezone)

    @property
    def peak_price(self) -> float:
        """Highest price."""
        return max(p.price for p in self.periods)

    @property
    def cheapest_price(self) -> float:
        """Lowest price."""
        return min(p.price for p in self.periods)

    def local(self, ts: float) -> dt.datetime:
        """Local time of an epoch."""
        return dt.datetime.fromtimestamp(ts, ZoneInfo(self.zone))

    def period_at(self, ts: float) -> Period | None:
        """The period covering an instant."""
        when = self.local(ts)
        hour = when.hour + when.minute / 60.0 + when.second / 3600.0
        for p in self.periods:
            if when.weekday() in p.days and _covers(p.start_hour, p.end_hour, hour):
                return p
        return None

    def price_at(self, ts: float) -> float:
        """Price of a kWh at an instant."""
        p = self.period_at(ts)
        return self.cheapest_price if p is None else p.price

    def is_peak(self, ts: float) -> bool:
        """True in the most expensive period, when it costs more than the cheapest."""
        return self.peak_price > self.cheapest_price and self.price_at(ts) >= self.peak_price


def in_hours(ts: float, zone: str, start: float, end: float, days: Sequence[int]) -> bool:
    """True inside working hours [start, end) on working days, local time."""
    when = dt.datetime.fromtimestamp(ts, ZoneInfo(zone))
    hour = when.hour + when.minute / 60.0
    return when.weekday() in days and _covers(start, end, hour)
