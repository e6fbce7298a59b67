"""A plan's inputs from the site's state: tariff per step in the site's time zone, load forecast, battery SOC."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import numpy.typing as npt

from gridwatch.common.schema import Forecast as LoadForecast
from gridwatch.common.schema import ForecastScope
from gridwatch.storage.problem import Battery
from gridwatch.storage.settings import BatteryConfig, StorageSettings

Vec = npt.NDArray[np.float64]
DAY_S = 86400.0


def step_starts(start_ts: float, step_s: float, steps: int) -> Vec:
    """Epoch of every step's start."""
    return start_ts + step_s * np.arange(steps, dtype=np.float64)


def align(now: float, step_s: float) -> float:
    """The start of the step `now` falls in."""
    return math.floor(now / step_s) * step_s


def import_prices(s: StorageSettings, starts: Sequence[float]) -> list[float]:
    """The two-rate tariff: the peak price in [peak_start_hour, peak_end_hour) local time, else off-peak."""
    zone = ZoneInfo(s.timezone)
    out = []
    for ts in starts:
        hour = dt.datetime.fromtimestamp(float(ts), zone).hour
        out.append(s.peak_price if s.peak_start_hour <= hour < s.peak_end_hour else s.offpeak_price)
    return out


def billing_windows(s: StorageSettings, starts: Sequence[float]) -> list[int]:
    """Each step's billing window: its local calendar month (year * 100 + month)."""
    zone = ZoneInfo(s.timezone)
    out = []
    for ts in starts:
        local = dt.datetime.fromtimestamp(float(ts), zone)
        out.append(local.year * 100 + local.month)
    return out


def to_battery(b: BatteryConfig) -> Battery:
    """The optimizer's battery from its EnergySite description."""
    eff = b.one_way_efficiency
    return Battery(
        name=b.name,
        capacity_kwh=b.capacity_kwh,
        charge_max_kw=b.charge_kw,
        discharge_max_kw=b.discharge_kw,
        charge_efficiency=eff,
        discharge_efficiency=eff,
        soc_min_frac=b.soc_min,
        soc_max_frac=b.soc_max,
        soc_target_frac=b.target,
    )


@dataclass(frozen=True)
class Forecast:
    """Load per step and where it came from."""

    load_kw: list[float]
    source: str


def seasonal_naive(
    history: Sequence[tuple[float, float]], starts: Vec, step_s: float, live_kw: float | None
) -> Forecast:
    """Each step's load is the mean of the same interval one day earlier (the history is (epoch, kW) per minute);
    intervals the history does not cover take the latest live load (persistence), else the history's mean."""
    if history:
        ts = np.asarray([h[0] for h in history], dtype=np.float64)
        kw = np.asarray([h[1] for h in history], dtype=np.float64)
    else:
        ts = kw = np.zeros(0)
    fill = live_kw if live_kw is not None else (float(kw.mean()) if kw.size else 0.0)
    out, hit = [], 0
    for start in starts:
        lo = start - DAY_S
        mask = (ts >= lo) & (ts < lo + step_s)
        if mask.any():
            out.append(float(kw[mask].mean()))
            hit += 1
        else:
            out.append(fill)
    if hit == len(starts):
        source = "seasonal_naive"
    elif hit:
        source = "seasonal_naive_partial"
    else:
        source = "persistence" if live_kw is not None else "history_mean"
    return Forecast(out, source)


class BatteryState(msgspec.Struct, frozen=True):
    """A battery's reported state in Redis (written by the device gateway or the simulator)."""

    soc_frac: float
    p_kw: float = 0.0
    ts: float = 0.0


_state_decoder = msgspec.json.Decoder(BatteryState)


def battery_soc(raw: bytes | None, now: float, max_age_s: float) -> float | None:
    """The reported SOC when it is fresh and valid, else None."""
    if raw is None:
        return None
    try:
        state = _state_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if not (math.isfinite(state.soc_frac) and 0 <= state.soc_frac <= 1) or now - state.ts > max_age_s:
        return None
    return state.soc_frac


def battery_kw(raw: bytes | None, now: float, max_age_s: float) -> float:
    """The reported AC power (> 0 discharging) when fresh and valid, else 0."""
    if raw is None:
        return 0.0
    try:
        state = _state_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return 0.0
    return state.p_kw if math.isfinite(state.p_kw) and now - state.ts <= max_age_s else 0.0


_forecast_decoder = msgspec.json.Decoder(LoadForecast)


def overlay_forecaster(base: Forecast, raw: Sequence[bytes], starts: Vec, now: float, max_age_s: float) -> Forecast:
    """The forecaster's site P50 (its Redis hash `gw:<site>:forecasts`) where it covers a step, the base forecast
    elsewhere; a forecast issued longer than `max_age_s` ago, or unreadable, is ignored."""
    site: LoadForecast | None = None
    for value in raw:
        try:
            f = _forecast_decoder.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError):
            continue
        if (
            f.scope is ForecastScope.SITE
            and now - f.issued_ts <= max_age_s
            and (site is None or f.issued_ts > site.issued_ts)
        ):
            site = f
    if site is None:
        return base
    out, hit = list(base.load_kw), 0
    for i, start in enumerate(starts):
        j = math.floor((float(start) - site.start_ts) / site.step_s)
        if 0 <= j < len(site.p50) and math.isfinite(site.p50[j]):
            out[i] = site.p50[j]
            hit += 1
    if not hit:
        return base
    return Forecast(out, f"forecaster {site.model}" + ("" if hit == len(out) else f" + {base.source}"))
