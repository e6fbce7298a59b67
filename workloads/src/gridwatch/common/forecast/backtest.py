"""The one rolling-origin backtest shared by the trainer, the CLI and the benchmark, and its metrics.

Origins are spaced one horizon apart and end one horizon before the panel's end: fold k fits every model on
the history up to its origin and forecasts the next `horizon` steps. Metrics, averaged over folds and series:

- MASE: mean absolute error of the P50 divided by the in-sample mean absolute weekly seasonal difference
  (daily while the history is shorter than two weeks) of the fold's history;
- sMAPE: mean of 200 |y - P50| / (|y| + |P50|), in percent;
- pinball: the quantile loss averaged over P10, P50 and P90, divided by the same scale as MASE;
- coverage_p10_p90: share of actual values inside [P10, P90] (80 % is the nominal rate).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gridwatch.common.forecast.models import Model, default_models
from gridwatch.common.forecast.panel import F64, NotEnoughHistory, Panel

LEVELS: tuple[int, ...] = (10, 50, 90)
YARDSTICK = "seasonal_naive"


@dataclass
class ModelScore:
    """One model's backtest metrics (averaged over folds and series) and per-series MASE."""

    name: str
    mase: float
    smape: float
    pinball: float
    coverage_p10_p90: float
    fit_seconds: float
    series_mase: F64 = field(repr=False)

    def as_dict(self) -> dict[str, float | str]:
        """The JSON shape of `gridwatch forecast backtest --json`."""
        return {
            "name": self.name,
            "mase": round(self.mase, 4),
            "smape": round(self.smape, 4),
            "pinball": round(self.pinball, 4),
            "coverage_p10_p90": round(self.coverage_p10_p90, 4),
        }


@dataclass
class BacktestResult:
    """Scores of every model that could run, the selection, and the models that could not."""

    horizon: int
    folds: int
    scores: list[ModelScore]
    skipped: dict[str, str]

    @property
    def selected(self) -> str:
        """The model with the lowest MASE over the whole panel."""
        return min(self.scores, key=lambda s: s.mase).name

    def selected_per_series(self) -> list[str]:
        """The model with the lowest MASE for each series."""
        names = [s.name for s in self.scores]
        table = np.stack([s.series_mase for s in self.scores])
        return [names[k] for k in np.argmin(table, axis=0)]

    def score(self, name: str) -> ModelScore:
        """The scores of one model."""
        for s in self.scores:
            if s.name == name:
                return s
        raise KeyError(name)

    def as_dict(self) -> dict[str, object]:
        """`{"selected": NAME, "models": [...]}`."""
        return {
            "selected": self.selected,
            "horizon": self.horizon,
            "folds": self.folds,
            "models": [s.as_dict() for s in self.scores],
            "skipped": self.skipped,
        }


def mase_scale(history: F64, season: int) -> F64:
    """Per-series mean absolute seasonal difference of the history (never 0)."""
    diff = np.abs(history[:, season:] - history[:, :-season])
    scale = np.nanmean(diff, axis=1)
    return np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)


def pinball(actual: F64, quantiles: F64, levels: Sequence[int]) -> F64:
    """Quantile loss per (series, step), averaged over the levels."""
    total = np.zeros(actual.shape)
    for k, level in enumerate(levels):
        q = level / 100.0
        diff = actual - quantiles[:, :, k]
        total += np.maximum(q * diff, (q - 1.0) * diff)
    return total / len(levels)


def fold_metrics(history: Panel, actual: F64, forecast: F64) -> tuple[F64, F64, F64, F64]:
    """Per-series MASE, sMAPE, scaled pinball and P10-P90 coverage of one fold's (series, h, [P10, P50, P90])."""
    filled = history.filled()
    season = history.week if filled.shape[1] >= 2 * history.week else history.day
    scale = mase_scale(filled, max(1, min(season, filled.shape[1] - 1)))
    p50 = forecast[:, :, 1]
    err = np.abs(actual - p50)
    mase = np.nanmean(err, axis=1) / scale
    denom = np.abs(actual) + np.abs(p50)
    smape = np.nanmean(np.where(denom > 0, 200.0 * err / np.where(denom > 0, denom, 1.0), 0.0), axis=1)
    loss = np.nanmean(pinball(actual, forecast, LEVELS), axis=1) / scale
    inside = (actual >= forecast[:, :, 0]) & (actual <= forecast[:, :, 2])
    covered = np.nanmean(np.where(np.isnan(actual), np.nan, inside), axis=1)
    return mase, smape, loss, covered


def fold_origins(length: int, horizon: int, folds: int) -> list[int]:
    """Origins (history lengths) of the folds, oldest first, each one horizon after the previous."""
    return [length - horizon * (folds - k) for k in range(folds)]


def backtest(
    panel: Panel,
    horizon: int,
    folds: int,
    models: Callable[[], list[Model]] = default_models,
    on_fold: Callable[[str, int, float], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of fresh models from `models()` on every fold; the weekly yardstick always runs."""
    if horizon < 1 or folds < 1:
        raise ValueError("horizon and folds must be at least 1")
    origins = fold_origins(panel.length, horizon, folds)
    if origins[0] < 2:
        raise NotEnoughHistory(
            f"{folds} folds of {horizon} steps need more than {horizon * folds} observations, got {panel.length}"
        )
    candidates = models()
    if YARDSTICK not in [m.name for m in candidates]:
        raise ValueError(f"the candidates must include the yardstick '{YARDSTICK}'")
    n = panel.values.shape[0]
    scores: list[ModelScore] = []
    skipped: dict[str, str] = {}
    for index, template in enumerate(candidates):
        name = template.name
        need = template.min_history(panel)
        if origins[0] < need:
            skipped[name] = f"needs {need} observations before the first origin, has {origins[0]}"
            continue
        abs_err = np.zeros(n)
        smape = np.zeros(n)
        loss = np.zeros(n)
        covered = np.zeros(n)
        seconds = 0.0
        for fold, origin in enumerate(origins):
            history = panel.head(origin)
            actual = panel.values[:, origin : origin + horizon]
            model = models()[index]
            started = time.perf_counter()
            try:
                forecast = model.fit(history, horizon).predict(horizon, LEVELS)
            except NotEnoughHistory as exc:
                skipped[name] = str(exc)
                break
            elapsed = time.perf_counter() - started
            seconds += elapsed
            if on_fold is not None:
                on_fold(name, fold, elapsed)
            m = fold_metrics(history, actual, forecast)
            abs_err += m[0]
            smape += m[1]
            loss += m[2]
            covered += m[3]
        else:
            series_mase = abs_err / folds
            scores.append(
                ModelScore(
                    name=name,
                    mase=float(np.mean(series_mase)),
                    smape=float(np.mean(smape / folds)),
                    pinball=float(np.mean(loss / folds)),
                    coverage_p10_p90=float(np.mean(covered / folds)),
                    fit_seconds=seconds,
                    series_mase=series_mase,
                )
            )
    if not scores:
        raise NotEnoughHistory("no model has enough history: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    return BacktestResult(horizon, folds, scores, skipped)
