"""One forecast step: pick models by backtest (now and then), fit, forecast every series, build Forecast messages."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from gridwatch.common.forecast.backtest import YARDSTICK, BacktestResult, backtest
from gridwatch.common.forecast.models import Model, default_models
from gridwatch.common.forecast.panel import F64, NotEnoughHistory, Panel
from gridwatch.common.forecast.selection import Pick, machine_models
from gridwatch.common.schema import SCHEMA_VERSION, Forecast, ForecastScope

FALLBACK = ("seasonal_ar", "seasonal_naive_daily", "naive")  # in order, when a backtest cannot run yet


@dataclass
class Selection:
    """The model chosen for each series of a scope, with its backtest error and the yardstick's."""

    models: list[str]
    mase: F64
    yardstick: F64
    version: str
    at: float = field(default_factory=time.time)


def select(panel: Panel, horizon: int, folds: int, per_series: bool, version: str) -> Selection:
    """Backtest with as many folds as the history allows; too short for one fold: the first fallback that fits.

    Per series (machines): each series gets its own best point model; otherwise (the site): one model, from
    every candidate including the global gradient boosting.
    """
    make = machine_models if per_series else default_models
    n = panel.values.shape[0]
    for k in range(folds, 0, -1):
        try:
            result: BacktestResult = backtest(panel, horizon, k, models=make)
        except NotEnoughHistory:
            continue
        names = result.selected_per_series() if per_series else [result.selected] * n
        by_name = {s.name: s.series_mase for s in result.scores}
        mase = np.array([by_name[name][i] for i, name in enumerate(names)])
        yard = by_name.get(YARDSTICK, np.zeros(n))
        return Selection(names, mase, np.asarray(yard, dtype=np.float64), version)
    for name in FALLBACK:
        model = next(m for m in make() if m.name == name)
        if panel.length >= model.min_history(panel):
            return Selection([name] * n, np.zeros(n), np.zeros(n), version)
    raise NotEnoughHistory(f"{panel.length} steps of history: not enough for any model")


def forecast_panel(panel: Panel, selection: Selection, horizon: int, make: list[Model]) -> F64:
    """Fit each selected model once on the whole panel (vectorized) and take each series' own model's quantiles."""
    out = np.empty((panel.values.shape[0], horizon, 3))
    names = np.array(selection.models)
    for model in make:
        rows = np.flatnonzero(names == model.name)
        if rows.size == 0:
            continue
        sub = Panel(panel.values[rows], panel.start, panel.step_s, tuple(panel.ids[i] for i in rows))
        out[rows] = model.fit(sub, horizon).predict(horizon)
    return out


def messages(
    site: str, scope: ForecastScope, panel: Panel, q: F64, selection: Selection, issued: float
) -> list[Forecast]:
    """One Forecast per series, starting at the first step after the history."""
    start = panel.start + panel.length * panel.step_s
    out = []
    for i, series in enumerate(panel.ids):
        rows = np.round(q[i], 4)
        out.append(
            Forecast(
                schema_version=SCHEMA_VERSION,
                site=site,
                scope=scope,
                id=series,
                issued_ts=issued,
                start_ts=start,
                step_s=panel.step_s,
                p10=rows[:, 0].tolist(),
                p50=rows[:, 1].tolist(),
                p90=rows[:, 2].tolist(),
                unit="kW",
                model=selection.models[i],
                model_version=selection.version,
                backtest_mase=_finite(selection.mase[i]),
                yardstick_mase=_finite(selection.yardstick[i]),
                history_steps=panel.length,
            )
        )
    return out


def _finite(x: float) -> float:
    return round(float(x), 4) if math.isfinite(float(x)) else 0.0


class ForecastService:
    """Keeps the selections between steps and re-runs the backtest every `reselect_s` (or when series change)."""

    def __init__(self, site: str, horizon: int, folds: int, reselect_s: float) -> None:
        self.site = site
        self.horizon = horizon
        self.folds = folds
        self.reselect_s = reselect_s
        self.selections: dict[ForecastScope, tuple[tuple[str, ...], Selection]] = {}
        self.selections_made = 0
        self.installed: dict[str, dict[str, Pick]] = {}  # a promoted selection from the registry (install)
        self.installed_version = ""

    def install(self, version: str, selections: dict[str, dict[str, Pick]]) -> None:
        """Serve a trained selection (scope -> id -> model) from the next step on, instead of backtesting here."""
        self.installed, self.installed_version = selections, version

    def _selection(self, scope: ForecastScope, panel: Panel, now: float) -> Selection:
        picks = self.installed.get(scope.value, {})
        if picks and all(i in picks for i in panel.ids):  # a series the trainer never saw: backtest here
            trained = [picks[i] for i in panel.ids]
            return Selection(
                [c[0] for c in trained],
                np.array([c[1] for c in trained]),
                np.array([c[2] for c in trained]),
                self.installed_version,
                now,
            )
        known = self.selections.get(scope)
        if known is not None and known[0] == panel.ids and now - known[1].at < self.reselect_s:
            return known[1]
        self.selections_made += 1
        machine = scope is ForecastScope.MACHINE
        chosen = select(panel, self.horizon, self.folds, per_series=machine, version=f"local-{self.selections_made}")
        chosen.at = now
        self.selections[scope] = (panel.ids, chosen)
        return chosen

    def step(self, scope: ForecastScope, panel: Panel, now: float) -> list[Forecast]:
        """Forecasts of every series of the panel that has any data."""
        has_data = ~np.isnan(panel.values).all(axis=1)
        if not has_data.any() or panel.length == 0:
            return []
        if not has_data.all():
            keep = np.flatnonzero(has_data)
            panel = Panel(panel.values[keep], panel.start, panel.step_s, tuple(panel.ids[i] for i in keep))
        selection = self._selection(scope, panel, now)
        make = machine_models() if scope is ForecastScope.MACHINE else default_models()
        q = forecast_panel(panel, selection, self.horizon, make)
        return messages(self.site, scope, panel, q, selection, now)

    def site_selection(self) -> Selection | None:
        """The site scope's current selection, if any."""
        known = self.selections.get(ForecastScope.SITE)
        return known[1] if known else None
