"""Grid signals for planning: day-ahead prices and carbon intensity from `<prefix>.grid`, per plan step when fresh."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from gridwatch.common.schema import GridMetric, GridSignal

# The grid ingestor's units (GRID_UNITS) per the planner's: EUR/MWh -> EUR/kWh and gCO2/kWh -> kgCO2/kWh
PER_MWH_TO_PER_KWH = 1e-3
G_TO_KG = 1e-3
PRICE_CURRENCY = "EUR"  # ENTSO-E day-ahead prices are in EUR/MWh
COVERED = 0.999  # share of a step that fresh signals must cover for the step to use them


@dataclass(frozen=True)
class Slot:
    """One grid value over [start_ts, end_ts), from `source`, fetched at `fetched_ts`."""

    start_ts: float
    end_ts: float
    value: float
    fetched_ts: float
    source: str


@dataclass(frozen=True)
class Series:
    """A grid series resolved onto plan steps: a value per step (None where fresh signals do not cover it)."""

    values: list[float | None]
    sources: list[str]
    newest_fetch_ts: float | None  # the freshest fetch among all slots held, fresh or not

    @property
    def covered(self) -> int:
        """Steps with a value."""
        return sum(v is not None for v in self.values)


@dataclass
class GridStore:
    """The latest value per (metric, source, interval start) of the planner's two grid series; older ones dropped."""

    keep_s: float = 2 * 86400.0
    slots: dict[GridMetric, dict[tuple[str, float], Slot]] = field(default_factory=dict)

    def add(self, signal: GridSignal, site: str) -> bool:
        """Keep a price or carbon-intensity signal of this site (a newer fetch replaces the same interval);
        False for signals the planner does not use."""
        if signal.site != site or signal.metric not in (GridMetric.PRICE, GridMetric.CARBON_INTENSITY):
            return False
        series = self.slots.setdefault(signal.metric, {})
        key = (signal.source, signal.start_ts)
        held = series.get(key)
        if held is None or signal.fetched_ts >= held.fetched_ts:
            series[key] = Slot(signal.start_ts, signal.end_ts, signal.value, signal.fetched_ts, signal.source)
        return True

    def prune(self, now: float) -> None:
        """Forget intervals that ended more than keep_s ago."""
        for series in self.slots.values():
            for key in [k for k, s in series.items() if s.end_ts < now - self.keep_s]:
                del series[key]

    def resolve(
        self, metric: GridMetric, starts: Sequence[float], step_s: float, now: float, max_age_s: float
    ) -> Series:
        """Each step's time-weighted mean over the fresh slots (fetched within max_age_s) of the most recently
        fetched source that covers it; None where no source covers the whole step."""
        held = list(self.slots.get(metric, {}).values())
        newest = max((s.fetched_ts for s in held), default=None)
        fresh = [s for s in held if now - s.fetched_ts <= max_age_s]
        by_source: dict[str, list[Slot]] = {}
        for s in fresh:
            by_source.setdefault(s.source, []).append(s)
        # a source's recency is its latest fetch: where two sources cover a step, the later one wins
        order = sorted(by_source, key=lambda src: max(s.fetched_ts for s in by_source[src]), reverse=True)
        values: list[float | None] = []
        sources: list[str] = []
        for start in starts:
            lo, hi = float(start), float(start) + step_s
            value: float | None = None
            for src in order:
                weight = total = 0.0
                for s in by_source[src]:
                    overlap = min(hi, s.end_ts) - max(lo, s.start_ts)
                    if overlap > 0:
                        weight += overlap
                        total += overlap * s.value
                if weight >= COVERED * step_s:
                    value = total / weight
                    if src not in sources:
                        sources.append(src)
                    break
            values.append(value)
        return Series(values, sources, newest)


@dataclass(frozen=True)
class Signals:
    """What the plan uses: import price and carbon intensity per step, and where each came from."""

    import_price_per_kwh: list[float]
    carbon_kg_per_kwh: list[float]  # empty: no carbon term
    price_source: str
    carbon_source: str
    price_coverage: float  # share of steps priced by day-ahead prices
    carbon_coverage: float  # share of steps with a carbon intensity of their own


def _absent(what: str, series: Series, now: float, max_age_s: float) -> str:
    if series.newest_fetch_ts is None:
        return f"no {what} on the grid topic"
    age = now - series.newest_fetch_ts
    if age > max_age_s:
        return f"{what} stale (fetched {age:.0f} s ago, max {max_age_s:.0f} s)"
    return f"{what} do not cover the horizon"


def plan_signals(
    store: GridStore,
    starts: Sequence[float],
    step_s: float,
    now: float,
    tariff_prices: Sequence[float],
    currency: str,
    max_age_s: float,
    price_adder_per_kwh: float = 0.0,
    use_carbon: bool = True,
) -> Signals:
    """Day-ahead prices (plus the adder) replace the tariff on the steps they cover; carbon intensity on the steps
    it covers, the mean of those elsewhere. Without fresh signals: the tariff and no carbon term, and why."""
    n = len(starts)
    prices = [float(p) for p in tariff_prices]
    if currency != PRICE_CURRENCY:
        price_source = f"tariff: day-ahead prices are {PRICE_CURRENCY}/MWh, the tariff bills {currency}"
        price_covered = 0
    else:
        series = store.resolve(GridMetric.PRICE, starts, step_s, now, max_age_s)
        for i, v in enumerate(series.values):
            if v is not None:
                prices[i] = v * PER_MWH_TO_PER_KWH + price_adder_per_kwh
        price_covered = series.covered
        if price_covered == 0:
            price_source = "tariff: " + _absent("day-ahead prices", series, now, max_age_s)
        else:
            names = ",".join(series.sources)
            price_source = f"day_ahead {names}" + (
                "" if price_covered == n else f" ({price_covered}/{n} steps) + tariff"
            )
    carbon: list[float] = []
    carbon_covered = 0
    if not use_carbon:
        carbon_source = "off (carbon weight 0)"
    else:
        series = store.resolve(GridMetric.CARBON_INTENSITY, starts, step_s, now, max_age_s)
        known = [v * G_TO_KG for v in series.values if v is not None]
        carbon_covered = len(known)
        if not known:
            carbon_source = "none: " + _absent("carbon intensities", series, now, max_age_s)
        else:
            fill = math.fsum(known) / len(known)
            carbon = [fill if v is None else v * G_TO_KG for v in series.values]
            names = ",".join(series.sources)
            carbon_source = f"grid {names}" + (
                "" if carbon_covered == n else f" ({carbon_covered}/{n} steps, the rest at their mean)"
            )
    return Signals(
        import_price_per_kwh=prices,
        carbon_kg_per_kwh=carbon,
        price_source=price_source,
        carbon_source=carbon_source,
        price_coverage=price_covered / n if n else 0.0,
        carbon_coverage=carbon_covered / n if n else 0.0,
    )
