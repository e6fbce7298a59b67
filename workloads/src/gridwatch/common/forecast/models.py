"""Forecasting models in the statsforecast/scikit-learn style: `fit(panel, horizon)` then `predict(h, levels)`.

Every model forecasts a whole panel at once (vectorized over series) and returns quantiles:

- `SeasonalNaive`: the value one season ago (weekly: the yardstick `seasonal_naive`; daily: `seasonal_naive_daily`)
  and `Naive` (the last value, for series shorter than a day);
- `Decomposition`: a weekly (or daily) seasonal profile, a smoothed level and an AR(1) remainder (MSTL-like);
- `SeasonalAR`: last week plus a smoothed weekly deviation plus its AR(1) remainder;
- `MultiSeasonal` (module `mstl`): daily and weekly profiles (STL-like), a fast level and an AR(1) remainder: the
  strong classical model, and `Ensemble` (module `ensemble`): the mean of each series' best point models, ranked
  by their errors at rolling origins inside the training history;
- `GradientBoosting`: one global scikit-learn HistGradientBoostingRegressor per quantile on lags, rolling statistics
  and calendar features of every series, learning what the seasonal AR forecast misses, with conformalized bands.

Bands of all but the gradient boosting come from their own errors at rolling origins inside the history (no
normality assumption).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy.signal import lfilter  # type: ignore[import-untyped]
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from gridwatch.common.forecast.panel import F64, I64, NotEnoughHistory, Panel, day_of_week, slot_of_day
from gridwatch.common.forecast.trees import Forest, compile_forest

DEFAULT_LEVELS: tuple[int, ...] = (10, 50, 90)
_GRID = np.arange(1, 100)  # the quantile levels (percent) calibrated errors are kept at


def check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    """Quantile levels in percent, 1..99."""
    out = tuple(int(x) for x in levels)
    if not out or any(not 1 <= x <= 99 for x in out):
        raise ValueError(f"quantile levels are percentages between 1 and 99, got {list(levels)}")
    return out


class Model(Protocol):
    """What the backtest, the trainer and the forecaster need from a model."""

    name: str

    def min_history(self, panel: Panel) -> int:
        """Fewest observations per series `fit` accepts for this panel's step."""
        ...

    def fit(self, panel: Panel, horizon: int) -> Model:
        """Learn from the panel's history to forecast up to `horizon` steps."""
        ...

    def predict(self, h: int, levels: Sequence[int] = DEFAULT_LEVELS) -> F64:
        """Quantiles of the next `h` steps: shape (series, h, len(levels)), sorted along the last axis."""
        ...


# --- point models with empirical bands ----------------------------------------------------------------------
@dataclass
class _Calibrated:
    """Errors of a point forecast at rolling origins inside the history, as quantiles per horizon bucket."""

    horizon: int  # steps the buckets cover
    quantiles: F64  # (series, buckets, 99): error quantiles at levels 1..99

    BUCKETS: ClassVar[int] = 4

    def band(self, point: F64, levels: tuple[int, ...]) -> F64:
        """Quantile forecasts: P50 is the point forecast, the others add the error quantile of their bucket
        (never crossing the point forecast)."""
        n, h = point.shape
        j = np.arange(h)
        bucket = np.minimum(j * self.BUCKETS // max(self.horizon, 1), self.BUCKETS - 1)
        growth = np.sqrt(np.maximum(1.0, (j + 1) / max(self.horizon, 1)))  # beyond the calibrated horizon
        out = np.empty((n, h, len(levels)))
        for k, level in enumerate(levels):
            shift = self.quantiles[:, bucket, level - 1] * growth[None, :]
            # P50 stays the point forecast; a biased error distribution cannot put a lower quantile above it
            if level < 50:
                out[:, :, k] = point + np.minimum(shift, 0.0)
            elif level > 50:
                out[:, :, k] = point + np.maximum(shift, 0.0)
            else:
                out[:, :, k] = point
        out.sort(axis=2)
        return out


class _PointModel:
    """Base of the models that forecast a point and take their bands from their own past errors."""

    name: str = "point"
    calibration_days: int = 14  # days of rolling origins whose errors make the bands
    calibration_per_day: int = 4  # origins per day (7 days x 1 gave too narrow bands: see docs/forecasting.md)

    def __init__(self) -> None:
        self._state: Any = None
        self._calibrated: _Calibrated | None = None

    def _needs(self, panel: Panel) -> int:
        raise NotImplementedError

    def _fit_point(self, y: F64, panel: Panel) -> Any:
        raise NotImplementedError

    def _predict_point(self, state: Any, h: int) -> F64:
        raise NotImplementedError

    def min_history(self, panel: Panel) -> int:
        """Enough for the point model plus a few calibration steps."""
        return self._needs(panel) + 4

    def fit(self, panel: Panel, horizon: int) -> _PointModel:
        """Fit the point model on everything, and on a few earlier cuts to measure its errors."""
        y = panel.filled()
        if y.shape[1] < self.min_history(panel):
            raise NotEnoughHistory(f"{self.name} needs {self.min_history(panel)} observations, got {y.shape[1]}")
        self._state, errors, cal_h = self._fit_with_errors(y, panel, horizon)
        self._calibrated = _calibrate(errors, cal_h, y.shape[0])
        return self

    def _fit_with_errors(self, y: F64, panel: Panel, horizon: int) -> tuple[Any, list[F64], int]:
        """The fitted state on the whole history and the inner origins' errors (`inner_errors`)."""
        return (self._fit_point(y, panel), *self.inner_errors(y, panel, horizon))

    def _cuts(self, t_len: int, panel: Panel) -> list[int]:
        """The inner origins (history lengths), newest first, that leave the point model enough history."""
        spacing = max(1, panel.day // self.calibration_per_day)
        cuts = [t_len - c * spacing for c in range(1, self.calibration_days * self.calibration_per_day + 1)]
        return [cut for cut in cuts if cut >= self._needs(panel)]

    def inner_errors(self, y: F64, panel: Panel, horizon: int) -> tuple[list[F64], int]:
        """Errors (actual - point) of refits at rolling origins inside the history, newest origin first, and the
        horizon they cover: the same origins for every model, so their errors can be compared and combined."""
        t_len = y.shape[1]
        need = self._needs(panel)
        cal_h = max(1, min(max(horizon, 1), panel.day))
        errors: list[F64] = []
        for cut in self._cuts(t_len, panel):
            span = min(cal_h, t_len - cut)
            errors.append(
                y[:, cut : cut + span][:, :span] - self._predict_point(self._fit_point(y[:, :cut], panel), span)
            )
        if not errors:  # a short history: one origin, as many steps as there are
            cut = need
            cal_h = t_len - cut
            errors.append(y[:, cut:] - self._predict_point(self._fit_point(y[:, :cut], panel), cal_h))
        return errors, cal_h

    def predict(self, h: int, levels: Sequence[int] = DEFAULT_LEVELS) -> F64:
        """Quantile forecasts of the next `h` steps."""
        if self._calibrated is None:
            raise RuntimeError(f"{self.name} is not fitted")
        return self._calibrated.band(self._predict_point(self._state, h), check_levels(levels))


def _calibrate(errors: list[F64], cal_h: int, n: int) -> _Calibrated:
    """Pool errors by horizon bucket (each origin may cover fewer steps) and keep their quantiles."""
    buckets = _Calibrated.BUCKETS
    pooled: list[list[F64]] = [[] for _ in range(buckets)]
    for e in errors:
        j = np.arange(e.shape[1])
        b = np.minimum(j * buckets // max(cal_h, 1), buckets - 1)
        for k in range(buckets):
            if (b == k).any():
                pooled[k].append(e[:, b == k])
    q = np.zeros((n, buckets, _GRID.size))
    last: F64 | None = None
    for k in range(buckets):
        if pooled[k]:
            last = grid_quantiles(np.concatenate(pooled[k], axis=1))
        if last is not None:
            q[:, k, :] = last
    for k in range(buckets - 1, -1, -1):  # buckets before the first with errors borrow the next one
        if not pooled[k] and k + 1 < buckets:
            q[:, k, :] = q[:, k + 1, :]
    return _Calibrated(cal_h, q)


def grid_quantiles(x: F64) -> F64:
    """Quantiles at levels 1..99 % of each row of x (series, samples), numpy's default linear interpolation: one
    sort per row instead of np.quantile's 99 partitions (which cost seconds on 10,000 series)."""
    s = np.sort(x, axis=1)
    pos = (_GRID / 100.0) * (s.shape[1] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.shape[1] - 1)
    frac = pos - lo
    return np.asarray(s[:, lo] + (s[:, hi] - s[:, lo]) * frac[None, :], dtype=np.float64)


class Naive(_PointModel):
    """The last observed value, repeated: the only forecast possible on less than a day of history."""

    name = "naive"

    def _needs(self, panel: Panel) -> int:
        return 1

    def _fit_point(self, y: F64, panel: Panel) -> F64:
        return np.asarray(y[:, -1].copy(), dtype=np.float64)

    def _predict_point(self, state: F64, h: int) -> F64:
        return np.repeat(state[:, None], h, axis=1)


class SeasonalNaive(_PointModel):
    """The value one season ago (weekly or daily), repeated over the horizon."""

    def __init__(self, season: str = "weekly") -> None:
        super().__init__()
        if season not in ("weekly", "daily"):
            raise ValueError(f"season is 'weekly' or 'daily', got {season!r}")
        self.season = season
        self.name = "seasonal_naive" if season == "weekly" else "seasonal_naive_daily"

    def _period(self, panel: Panel) -> int:
        return panel.week if self.season == "weekly" else panel.day

    def _needs(self, panel: Panel) -> int:
        return self._period(panel)

    def _fit_point(self, y: F64, panel: Panel) -> F64:
        return np.asarray(y[:, -self._period(panel) :].copy(), dtype=np.float64)

    def _predict_point(self, state: F64, h: int) -> F64:
        m = state.shape[1]
        return np.asarray(state[:, np.arange(h) % m], dtype=np.float64)


@dataclass
class DecompositionState:
    """Fitted parts of the decomposition, per series."""

    profile: F64  # (series, period): seasonal profile, aligned so column 0 is the first forecast step
    level: F64  # (series,): smoothed deseasonalized level at the end of the history
    remainder: F64  # (series,): last deseasonalized value minus the level
    phi: F64  # (series,): AR(1) coefficient of the remainder, per step


class Decomposition(_PointModel):
    """Seasonal profile + exponentially smoothed level + AR(1) remainder (an MSTL-style classical model).

    The profile is the recency-weighted mean of the last `periods` de-meaned weeks (days while the history is
    shorter than a week and a day), so it holds both the daily and the weekly shape. The deseasonalized series
    is smoothed with a one-day span; the remainder's deviation from that level decays with its AR(1) coefficient.
    """

    name = "decomposition"

    def __init__(self, periods: int = 4, decay: float = 0.6) -> None:
        super().__init__()
        self.periods = periods  # seasonal periods averaged into the profile
        self.decay = decay  # weight of a period relative to the next, more recent one

    def _period(self, panel: Panel, t_len: int) -> int:
        return panel.week if t_len >= panel.week + panel.day else panel.day

    def _needs(self, panel: Panel) -> int:
        return 2 * panel.day

    def _fit_point(self, y: F64, panel: Panel) -> DecompositionState:
        n, t_len = y.shape
        m = self._period(panel, t_len)
        k = max(1, min(self.periods, t_len // m))
        window = y[:, t_len - k * m :]
        blocks = window.reshape(n, k, m)
        weights = self.decay ** np.arange(k - 1, -1, -1, dtype=np.float64)
        demeaned = blocks - blocks.mean(axis=2, keepdims=True)
        profile = np.tensordot(demeaned, weights / weights.sum(), axes=([1], [0]))
        z = window - np.tile(profile, (1, k))
        alpha = 2.0 / (panel.day + 1.0)
        zi = (1.0 - alpha) * z[:, :1]
        level, _ = lfilter([alpha], [1.0, alpha - 1.0], z, axis=1, zi=zi)
        r = z - level
        num = (r[:, 1:] * r[:, :-1]).sum(axis=1)
        den = (r[:, :-1] ** 2).sum(axis=1)
        phi = np.clip(np.divide(num, den, out=np.zeros(n), where=den > 0), 0.0, 0.99)
        return DecompositionState(profile, level[:, -1].copy(), r[:, -1].copy(), phi)

    def _predict_point(self, state: DecompositionState, h: int) -> F64:
        j = np.arange(h)
        m = state.profile.shape[1]
        ar = state.phi[:, None] ** (j[None, :] + 1) * state.remainder[:, None]
        return np.asarray(state.profile[:, j % m] + state.level[:, None] + ar, dtype=np.float64)


def ar_decay(phi: F64, h: int) -> F64:
    """phi ** (j + 1) for the steps j < h, shape (series, h): a running product (pow costs 20 ns an element)."""
    out = np.empty((h, phi.size))
    out[:] = phi[None, :]
    np.multiply.accumulate(out, axis=0, out=out)
    return np.ascontiguousarray(out.T)


def seasonal_repeat(last: F64, h: int) -> F64:
    """last[:, j % m] for the steps j < h: a slice (no fancy index) while the horizon fits in one season."""
    m = last.shape[1]
    if h <= m:
        return np.array(last[:, :h], dtype=np.float64)
    return np.asarray(last[:, np.arange(h) % m], dtype=np.float64)


def window_sums(x: F64, bounds: list[tuple[int, int]]) -> F64:
    """Sums of x[:, a:b] (series, windows) for every (a, b): one reduceat over the distinct edges and a running sum
    of those segments (the windows overlap; one pass over the columns instead of one per window)."""
    t_len = x.shape[1]
    edges = sorted({e for ab in bounds for e in ab if e < t_len} | {0})
    prefix = np.zeros((x.shape[0], len(edges) + 1))  # prefix[:, k]: sum of x[:, :edges[k]]; the last: all of x
    np.cumsum(np.add.reduceat(x, edges, axis=1), axis=1, out=prefix[:, 1:])
    pos = {e: k for k, e in enumerate(edges)} | {t_len: len(edges)}
    return np.stack([prefix[:, pos[hi]] - prefix[:, pos[lo]] for lo, hi in bounds], axis=1)


def deviation_parts(y: F64, period: int, span: int) -> tuple[F64, F64, F64]:
    """Seasonal deviations d_t = y_t - y_(t-period), their EWMA level and each series' AR(1) coefficient.

    Returned arrays are aligned with y's time axis (the first `period` columns are 0): level[:, t] and
    remainder d - level at t use observations up to t only.
    """
    n, t_len = y.shape
    r = np.empty((n, t_len))  # the deviation, then (in place) its remainder over the level
    r[:, :period] = 0.0
    np.subtract(y[:, period:], y[:, :-period], out=r[:, period:])
    alpha = 2.0 / (span + 1.0)
    level = np.zeros((n, t_len))
    if t_len > period:
        d = r[:, period:]
        level[:, period:], _ = lfilter([alpha], [1.0, alpha - 1.0], d, axis=1, zi=(1.0 - alpha) * d[:, :1])
    r -= level
    tail = r[:, max(period, t_len - 2 * period) :]
    num = (tail[:, 1:] * tail[:, :-1]).sum(axis=1)
    den = (tail[:, :-1] ** 2).sum(axis=1)
    phi = np.clip(np.divide(num, den, out=np.zeros(n), where=den > 0), 0.0, 0.999)
    return level, r, phi


@dataclass
class SeasonalARState:
    """Fitted parts of the seasonal AR model, per series."""

    last_period: F64  # (series, period): the last season of observations
    level: F64  # (series,): smoothed seasonal deviation at the end of the history
    remainder: F64  # (series,): last deviation minus that level
    phi: F64  # (series,): AR(1) coefficient of the remainder, per step

    def owned(self) -> SeasonalARState:
        """The same state with its last season copied out of the history it may be a view of."""
        return SeasonalARState(np.array(self.last_period, dtype=np.float64), self.level, self.remainder, self.phi)


class SeasonalAR(_PointModel):
    """Seasonal random walk with a smoothed drift and AR(1) errors: (1 - phi B)(1 - B^m)(y - drift) = e.

    The forecast is last week's value at the same slot (last day's while the history is shorter than a week and
    two days), plus the exponentially smoothed (one-day span) deviation from a week before, plus the latest
    deviation's excess over that level decaying with the per-series AR(1) coefficient.
    """

    name = "seasonal_ar"

    def __init__(self, span_days: float = 1.0) -> None:
        super().__init__()
        self.span_days = span_days

    def _needs(self, panel: Panel) -> int:
        return panel.day + 2 * panel.day

    def _period(self, panel: Panel, t_len: int) -> int:
        return panel.week if t_len >= panel.week + 2 * panel.day else panel.day

    def _fit_point(self, y: F64, panel: Panel) -> SeasonalARState:
        return self._states_at(y, panel, [y.shape[1]])[0].owned()

    def _states_at(self, y: F64, panel: Panel, cuts: list[int]) -> list[SeasonalARState]:
        """The fits on y[:, :cut] for every cut, from one pass over the history: the deviation's EWMA level and
        remainder are causal, so a fit on y[:, :cut] reads them at cut - 1 of the whole history's, and its AR(1)
        sums over the last two seasons are window sums of the same products. Exactly what refitting gives
        (to rounding); 56 refits of a 10,000-machine panel took 20 s of CPU. Each state's last season is a view
        into y (copying 57 strided weeks of 10,000 series cost 5 s of CPU): `owned()` copies a state that is kept."""
        span_steps = max(1, round(self.span_days * panel.day))
        states: list[SeasonalARState | None] = [None] * len(cuts)
        for m in sorted({self._period(panel, cut) for cut in cuts}):
            mine = [k for k, cut in enumerate(cuts) if self._period(panel, cut) == m]
            end = max(cuts[k] for k in mine)
            level, r, _ = deviation_parts(y[:, :end], m, span_steps)
            prod = np.zeros_like(r)
            np.multiply(r[:, 1:], r[:, :-1], out=prod[:, 1:])
            sq = np.zeros_like(r)
            np.square(r[:, :-1], out=sq[:, 1:])
            bounds = [(max(m, cuts[k] - 2 * m) + 1, cuts[k]) for k in mine]  # deviation_parts' tail products
            num, den = window_sums(prod, bounds), window_sums(sq, bounds)
            with np.errstate(divide="ignore", invalid="ignore"):
                phis = np.clip(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), 0.0, 0.999)
            for col, k in enumerate(mine):
                cut = cuts[k]
                states[k] = SeasonalARState(
                    y[:, cut - m : cut], level[:, cut - 1].copy(), r[:, cut - 1].copy(), phis[:, col].copy()
                )
        return [s for s in states if s is not None]

    def _predict_point(self, state: SeasonalARState, h: int) -> F64:
        ar = ar_decay(state.phi, h) * state.remainder[:, None]
        out = seasonal_repeat(state.last_period, h)
        out += state.level[:, None]
        out += ar
        return out

    def _fit_with_errors(self, y: F64, panel: Panel, horizon: int) -> tuple[Any, list[F64], int]:
        """The final fit and the inner origins' fits from the same pass (`_states_at`)."""
        t_len = y.shape[1]
        cuts = self._cuts(t_len, panel)
        if not cuts:  # a short history: one origin, as many steps as there are (as the base class)
            return (self._fit_point(y, panel), *_PointModel.inner_errors(self, y, panel, horizon))
        final, *inner = self._states_at(y, panel, [t_len, *cuts])
        final = final.owned()
        cal_h = max(1, min(max(horizon, 1), panel.day))
        errors = [
            y[:, cut : cut + min(cal_h, t_len - cut)] - self._predict_point(state, min(cal_h, t_len - cut))
            for cut, state in zip(cuts, inner, strict=True)
        ]
        return final, errors, cal_h

    def inner_errors(self, y: F64, panel: Panel, horizon: int) -> tuple[list[F64], int]:
        """The base class's errors at its inner origins, every fit from one pass (`_states_at`)."""
        _, errors, cal_h = self._fit_with_errors(y, panel, horizon)
        return errors, cal_h


# --- the learned global model ------------------------------------------------------------------------------
FEATURES: tuple[str, ...] = (
    "horizon_days",
    "time_of_day",
    "day_of_week",
    "ar_decay",
    "deviation_level",
    "deviation_remainder",
    "week_change_2w",
    "latest_same_slot_change",
    "day_mean_change",
    "day_std",
)
_DOW = FEATURES.index("day_of_week")
_STEP_FEATURES = (0, 1, 2)  # from one origin: functions of the step only
_SERIES_FEATURES = (4, 5, 8, 9)  # from one origin: functions of the series only


@dataclass
class _Rows:
    """Design rows: series i, origin t (last observed index), steps ahead h."""

    i: I64
    t: I64
    h: I64


def window_sum(x: F64, i: I64, end: I64, width: int, of: Callable[[F64], F64] | None = None) -> F64:
    """Sum of of(x)[i, end - width : end] for every row: per distinct end (the forecaster's single origin) a sum over
    the window, for many ends one running sum over the columns they span (never the whole panel's history; `of`,
    e.g. np.abs, is applied to those columns only)."""
    ends, where = np.unique(end, return_inverse=True)
    if ends.size <= 16:
        lo_col = int(ends[0]) - width
        part = x[:, lo_col : int(ends[-1])] if of is None else of(x[:, lo_col : int(ends[-1])])
        sums = np.stack([part[:, e - width - lo_col : e - lo_col].sum(axis=1) for e in ends], axis=1)
        return np.asarray(sums[i, where], dtype=np.float64)
    lo = int(ends[0]) - width
    csum = np.zeros((x.shape[0], int(ends[-1]) - lo + 1))
    part = x[:, lo : int(ends[-1])] if of is None else of(x[:, lo : int(ends[-1])])
    np.cumsum(part, axis=1, out=csum[:, 1:])
    return np.asarray(csum[i, end - lo] - csum[i, end - width - lo], dtype=np.float64)


def gbm_features(y: F64, rows: _Rows, panel: Panel) -> tuple[F64, F64, F64]:
    """Feature matrix, baseline (the seasonal AR forecast) and scale of each row.

    Every value feature is relative to the series' mean absolute level over the week before the origin, so one
    model serves series of any size; the target is (value - baseline) / scale: the model learns what the
    classical seasonal AR forecast misses.
    """
    d, w = panel.day, panel.week
    i, t, h = rows.i, rows.t, rows.h
    tau = t + h
    scale = window_sum(y, i, t + 1, w, np.abs) / w
    scale = np.where(scale > 1e-9, scale, 1.0)
    mean_d = window_sum(y, i, t + 1, d) / d
    mean_d_w = window_sum(y, i, t + 1 - w, d) / d
    var_d = np.maximum(window_sum(y, i, t + 1, d, np.square) / d - mean_d**2, 0.0)
    level, remainder, phi = deviation_parts(y, w, d)
    decay = phi[i] ** h
    last_week = y[i, tau - w]
    base = last_week + level[i, t] + decay * remainder[i, t]
    latest_same = y[i, tau - d * ((h + d - 1) // d)]
    ts = panel.time_at(tau)
    x = np.empty((i.size, len(FEATURES)))
    x[:, 0] = h / d
    x[:, 1] = slot_of_day(ts, panel.step_s) / d
    x[:, 2] = day_of_week(ts)
    x[:, 3] = decay
    x[:, 4] = level[i, t] / scale
    x[:, 5] = remainder[i, t] / scale
    x[:, 6] = (y[i, tau - 2 * w] - last_week) / scale
    x[:, 7] = (latest_same - last_week) / scale
    x[:, 8] = (mean_d - mean_d_w) / scale
    x[:, 9] = np.sqrt(var_d) / scale
    return x, base, scale


@dataclass
class GradientBoosting:
    """One global HistGradientBoostingRegressor per quantile on lags, rolling statistics and calendar features.

    Trained directly for every step of the horizon (the step is a feature), on (series, origin, step) rows drawn
    from the history, at most `max_rows` of them. The last `calibration_fraction` of origins is held out: the
    P10-P90 band is widened (or narrowed) there by conformalized quantile regression so that it covers what
    it claims to.
    """

    quantiles: tuple[int, ...] = (10, 50, 90)
    max_iter: int = 60  # few trees: predicting 10,000 series x 96 steps x 3 quantiles must fit in seconds
    learning_rate: float = 0.15
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    max_rows: int = 300_000
    calibration_fraction: float = 0.2
    seed: int = 0
    threads: int = 1  # OpenMP threads for fit and predict (one core; more threads thrash on a busy machine)
    name: str = "gbm"
    regressors: dict[int, HistGradientBoostingRegressor] = field(default_factory=dict)
    conformal: float = 0.0  # added to the P90 and taken from the P10 (scaled units)
    forest: Forest | None = None  # the regressors compiled (`trees`): the same predictions, about 3x faster
    horizon: int = 0
    _y: F64 | None = None
    _panel: Panel | None = None

    def min_history(self, panel: Panel) -> int:
        """Two weeks for the lags plus three days of training origins."""
        return 2 * panel.week + 3 * panel.day

    def training_rows(self, t_len: int, horizon: int, n: int, panel: Panel) -> _Rows:
        """Every (series, origin, step) with the target inside the history, or a seeded sample of them."""
        lo = 2 * panel.week - 1
        hi = t_len - 1 - horizon  # last origin whose whole horizon is observed
        if hi < lo:
            raise NotEnoughHistory(f"{self.name} needs {self.min_history(panel)} observations, got {t_len}")
        origins = hi - lo + 1
        total = n * origins * horizon
        if total <= self.max_rows:
            i, t, h = np.meshgrid(np.arange(n), np.arange(lo, hi + 1), np.arange(1, horizon + 1), indexing="ij")
            return _Rows(i.ravel(), t.ravel(), h.ravel())
        rng = np.random.default_rng(self.seed)
        return _Rows(
            rng.integers(0, n, self.max_rows),
            rng.integers(lo, hi + 1, self.max_rows),
            rng.integers(1, horizon + 1, self.max_rows),
        )

    def _regressor(self, q: int) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss="quantile",
            quantile=q / 100.0,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            categorical_features=[_DOW],
            random_state=self.seed,
        )

    def fit(self, panel: Panel, horizon: int) -> GradientBoosting:
        """Fit one regressor per quantile on the first origins, conformalize the band on the last ones."""
        y = panel.filled()
        n, t_len = y.shape
        if t_len < self.min_history(panel):
            raise NotEnoughHistory(f"{self.name} needs {self.min_history(panel)} observations, got {t_len}")
        horizon = max(1, min(horizon, panel.week))
        rows = self.training_rows(t_len, horizon, n, panel)
        x, base, scale = gbm_features(y, rows, panel)
        target = (y[rows.i, rows.t + rows.h] - base) / scale
        cut = np.quantile(rows.t, 1.0 - self.calibration_fraction)
        train = rows.t <= cut
        if train.all() or not train.any():
            train = np.ones(rows.t.size, dtype=bool)
        hold = ~train
        self.conformal = 0.0
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            self.regressors = {q: self._regressor(q).fit(x[train], target[train]) for q in self.quantiles}
            has_band = hold.any() and 10 in self.regressors and 90 in self.regressors
            lo_q = self.regressors[10].predict(x[hold]) if has_band else np.zeros(0)
            hi_q = self.regressors[90].predict(x[hold]) if has_band else np.zeros(0)
            check = x[hold] if hold.any() else x
            self.forest = compile_forest([self.regressors[q] for q in self.quantiles], check[:20_000])
        if has_band:
            score = np.maximum(lo_q - target[hold], target[hold] - hi_q)
            level = min(1.0, 0.8 * (1.0 + 1.0 / score.size))
            self.conformal = float(np.quantile(score, level))
        self.horizon = horizon
        self._y = y
        self._panel = panel
        return self

    def predict(self, h: int, levels: Sequence[int] = DEFAULT_LEVELS) -> F64:
        """Quantile forecasts of the next `h` steps from the end of the fitted history."""
        if self._y is None or self._panel is None:
            raise RuntimeError(f"{self.name} is not fitted")
        return self.predict_from(self._y, self._panel, h, levels)

    def predict_from(self, y: F64, panel: Panel, h: int, levels: Sequence[int] = DEFAULT_LEVELS) -> F64:
        """Quantile forecasts from the end of another (filled) history of the same step: no refit needed."""
        levels = check_levels(levels)
        missing = [q for q in levels if q not in self.regressors]
        if missing:
            raise ValueError(f"{self.name} was trained for quantiles {sorted(self.regressors)}, not {missing}")
        if h > panel.week:
            raise ValueError(f"{self.name} forecasts at most a week ({panel.week} steps), asked {h}")
        n, t_len = y.shape
        if t_len < 2 * panel.week:
            raise NotEnoughHistory(f"{self.name} needs {2 * panel.week} observations to predict, got {t_len}")
        rows = _Rows(
            np.repeat(np.arange(n), h), np.full(n * h, t_len - 1, dtype=np.int64), np.tile(np.arange(1, h + 1), n)
        )
        x, base, scale = gbm_features(y, rows, panel)
        out = np.empty((n, h, len(levels)))
        every: F64 | None = None
        if self.forest is not None and np.isfinite(x).all():  # sklearn's NaN handling is left to sklearn
            factors = [(rows.h, _STEP_FEATURES), (rows.i, _SERIES_FEATURES)]
            with threadpool_limits(limits=self.threads, user_api="openmp"):
                every = self.forest.predict(x, factors)
        for k, q in enumerate(levels):
            if every is not None:
                z = every[:, self.quantiles.index(q)]
            else:
                with threadpool_limits(limits=self.threads, user_api="openmp"):
                    z = self.regressors[q].predict(x)
            if q == 10:
                z = z - self.conformal
            elif q == 90:
                z = z + self.conformal
            out[:, :, k] = (base + scale * z).reshape(n, h)
        out.sort(axis=2)
        return out


def default_models() -> list[Model]:
    """The candidates every backtest runs, the yardstick first."""
    from gridwatch.common.forecast.ensemble import Ensemble, default_members  # they build on this module's classes
    from gridwatch.common.forecast.mstl import MultiSeasonal

    return [
        SeasonalNaive("weekly"),
        SeasonalNaive("daily"),
        Naive(),
        Decomposition(),
        SeasonalAR(),
        MultiSeasonal(),
        Ensemble(default_members()),
        GradientBoosting(),
    ]


def horizon_steps(minutes: float, step_s: float) -> int:
    """Steps covering `minutes` at `step_s`."""
    return max(1, math.ceil(minutes * 60.0 / step_s))
