"""Multi-seasonal decomposition (MSTL-like, daily + weekly) with a smoothed level and AR(1) remainder, in numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.signal import lfilter  # type: ignore[import-untyped]

from gridwatch.common.forecast.models import _PointModel
from gridwatch.common.forecast.panel import F64, Panel


def tricube_weights(cycles: int) -> F64:
    """One-sided tricube weights of `cycles` cycle-subseries values, oldest first (the newest weighs most)."""
    age = np.arange(cycles - 1, -1, -1, dtype=np.float64)
    return np.asarray((1.0 - (age / (cycles + 1.0)) ** 3) ** 3, dtype=np.float64)


def cycle_profile(x: F64, period: int, cycles: int, lo: int = 0, hi: int | None = None) -> F64:
    """Tricube-weighted mean of the last `cycles` whole periods of x[:, lo:hi] (series, time), de-meaned, as a
    profile indexed by absolute phase (time index modulo `period`)."""
    n, t_len = x.shape
    hi = t_len if hi is None else hi
    k = max(1, min(cycles, (hi - lo) // period))
    start = hi - k * period
    blocks = x[:, start:hi].reshape(n, k, period)
    w = tricube_weights(k)
    prof = np.tensordot(blocks, w / w.sum(), axes=([1], [0]))
    prof -= prof.mean(axis=1, keepdims=True)
    out = np.empty_like(prof)
    out[:, (start + np.arange(period)) % period] = prof
    return out


def moving_average(x: F64, width: int) -> F64:
    """Centred moving average over `width` steps (2 x width for an even width: the two end points weigh half), which
    removes a season of that length exactly; within half a width of either end, the plain mean of what there is."""
    n, t_len = x.shape
    c = np.zeros((n, t_len + 1))
    np.cumsum(x, axis=1, out=c[:, 1:])
    t = np.arange(t_len)
    half = width // 2
    lo = np.maximum(0, t - half)
    hi = np.minimum(t_len, t + half + 1)
    out = (c[:, hi] - c[:, lo]) / (hi - lo)
    inner = np.flatnonzero((t >= half) & (t + half < t_len))
    if width % 2 == 0 and width > 0 and inner.size:
        ends = 0.5 * (x[:, inner - half] + x[:, inner + half])
        out[:, inner] = (c[:, inner + half + 1] - c[:, inner - half] - ends) / width
    return np.asarray(out, dtype=np.float64)


@dataclass
class MSTLState:
    """Fitted parts per series: two seasonal profiles (by absolute phase), the level and the AR(1) remainder."""

    weekly: F64  # (series, week) or (series, 1) when the history is too short for a weekly season
    daily: F64  # (series, day)
    end: int  # time index of the first forecast step
    level: F64  # (series,): smoothed deseasonalized level at the end of the history
    remainder: F64  # (series,): last deseasonalized value minus the level
    phi: F64  # (series,): AR(1) coefficient of the remainder, per step


class MultiSeasonal(_PointModel):
    """Daily and weekly seasonal profiles, a smoothed level and an AR(1) remainder: an MSTL-style classical model.

    Decomposition (both seasons, two passes, as STL iterates): the trend is a centred 2 x week moving average
    (which removes both seasons exactly; 2 x day while the history is shorter than two weeks, or with `weekly`
    off); the weekly profile is the tricube-weighted mean of the detrended weeks (STL's cycle-subseries smoothing,
    one-sided at the end: up to `weekly_cycles` weeks, the newest weighing most), the daily profile the same over
    the last `daily_cycles` days of what the weekly profile leaves, so the daily shape follows recent change
    faster. The first pass uses only the span where the weekly average is whole; the second re-estimates the trend
    as a 2 x day moving average of the deseasonalized series, which reaches the end of the history, and the
    profiles on that. The deseasonalized series is forecast by an exponentially smoothed level (span
    `level_span_days`) plus the latest deviation from it decaying with the per-series AR(1) coefficient of the
    last two weeks' deviations.
    """

    name = "mstl"
    DEFAULTS: ClassVar[tuple[float, int, int, bool]] = (0.05, 15, 7, True)

    def __init__(
        self, level_span_days: float = 0.05, weekly_cycles: int = 15, daily_cycles: int = 7, weekly: bool = True
    ) -> None:
        super().__init__()
        self.level_span_days = level_span_days
        self.weekly_cycles = weekly_cycles
        self.daily_cycles = daily_cycles
        self.weekly = weekly
        if (level_span_days, weekly_cycles, daily_cycles, weekly) != self.DEFAULTS:
            season = f"w{weekly_cycles}d{daily_cycles}" if weekly else f"d{daily_cycles}"
            self.name = f"mstl_{season}_level{level_span_days:g}d"

    def _needs(self, panel: Panel) -> int:
        return 2 * panel.day

    def _fit_point(self, y: F64, panel: Panel) -> MSTLState:
        n, t_len = y.shape
        d = panel.day
        w = panel.week if self.weekly and t_len >= 2 * panel.week else 1
        t = np.arange(t_len)
        width = max(w, d)
        trend = moving_average(y, width)
        lo, hi = width // 2, t_len - width // 2  # first pass: where the centred average is whole
        weekly, daily = np.zeros((n, w)), np.zeros((n, d))
        for _ in range(2):
            detrended = y - trend
            if w > 1:
                weekly = cycle_profile(detrended, w, self.weekly_cycles, lo, hi)
            daily = cycle_profile(detrended - weekly[:, t % w], d, self.daily_cycles, lo, hi)
            trend = moving_average(y - weekly[:, t % w] - daily[:, t % d], d)
            lo, hi = 0, t_len
        z = y - weekly[:, t % w] - daily[:, t % d]
        span = max(1.0, self.level_span_days * d)
        alpha = 2.0 / (span + 1.0)
        level, _ = lfilter([alpha], [1.0, alpha - 1.0], z, axis=1, zi=(1.0 - alpha) * z[:, :1])
        r = z - level
        tail = r[:, -2 * panel.week :]
        num = (tail[:, 1:] * tail[:, :-1]).sum(axis=1)
        den = (tail[:, :-1] ** 2).sum(axis=1)
        phi = np.clip(np.divide(num, den, out=np.zeros(n), where=den > 0), 0.0, 0.999)
        return MSTLState(weekly, daily, t_len, level[:, -1].copy(), r[:, -1].copy(), phi)

    def _predict_point(self, state: MSTLState, h: int) -> F64:
        j = np.arange(h)
        tf = state.end + j
        seasonal = state.weekly[:, tf % state.weekly.shape[1]] + state.daily[:, tf % state.daily.shape[1]]
        ar = state.phi[:, None] ** (j[None, :] + 1) * state.remainder[:, None]
        return np.asarray(seasonal + state.level[:, None] + ar, dtype=np.float64)
