"""Train the forecaster centrally: the rolling-origin backtest on the site's history picks each series' model.

The artifact is the selection (which model forecasts the site and each machine) with every candidate's backtest
scores; the forecaster refits the selected models on the latest history each step (they are cheap, vectorized
fits) and no longer runs the backtest itself while a promoted selection covers its series. The metric that
decides promotion is the MASE averaged over the site and the mean of the machines, on this run's folds: the
model in service is scored on the very same folds by looking up its selections in this backtest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.artifact import Artifact
from gridwatch.common.forecast import source
from gridwatch.common.forecast.backtest import YARDSTICK, BacktestResult, backtest
from gridwatch.common.forecast.models import Model, default_models, horizon_steps
from gridwatch.common.forecast.panel import NotEnoughHistory, Panel
from gridwatch.common.forecast.selection import machine_models
from gridwatch.common.registry import ModelKind


@dataclass(frozen=True)
class ScopeFit:
    """One scope's backtest and the model chosen for each of its series."""

    ids: tuple[str, ...]
    result: BacktestResult
    models: list[str]

    def mase_of(self, names: Mapping[str, str]) -> float:
        """Mean MASE over the series if each used `names[id]` (the candidate's choice where it has none)."""
        by_name = {s.name: s.series_mase for s in self.result.scores}
        values = []
        for i, sid in enumerate(self.ids):
            name = names.get(sid, self.models[i])
            table = by_name.get(name, by_name[self.models[i]])  # a model that could not run: judged as the new
            values.append(float(table[i]))
        return float(np.mean(values))


@dataclass(frozen=True)
class ForecasterFit:
    """The selection of every scope that had enough history."""

    scopes: dict[str, ScopeFit]
    window: tuple[float, float]
    step_s: float
    horizon: int

    def metric(self, selections: Mapping[str, Mapping[str, str]] | None = None) -> float:
        """The promotion metric: mean over scopes of the mean MASE, for `selections` (default: this fit's)."""
        picks = selections or {}
        return float(np.mean([fit.mase_of(picks.get(scope, {})) for scope, fit in self.scopes.items()]))

    def artifact(self) -> Artifact:
        """The selection as plain arrays (per-series MASE of the chosen and of the yardstick model) + JSON."""
        arrays = {}
        scopes: dict[str, Any] = {}
        for scope, fit in self.scopes.items():
            by_name = {s.name: s.series_mase for s in fit.result.scores}
            chosen = np.array([by_name[m][i] for i, m in enumerate(fit.models)], dtype=np.float64)
            arrays[f"{scope}_mase"] = chosen
            arrays[f"{scope}_yardstick_mase"] = np.asarray(by_name.get(YARDSTICK, chosen), dtype=np.float64)
            scopes[scope] = {"ids": list(fit.ids), "models": fit.models, "folds": fit.result.folds}
        return Artifact(
            ModelKind.FORECASTER.value, arrays, {"step_s": self.step_s, "horizon": self.horizon, "scopes": scopes}
        )

    def metrics(self) -> dict[str, Any]:
        """What the registry records: the promotion metric and the site's backtest table."""
        out: dict[str, Any] = {"mase": round(self.metric(), 6)}
        site = self.scopes.get("site")
        if site is not None:
            out["selected"] = site.models[0]
            out["site_models"] = [s.as_dict() for s in site.result.scores]
            yard = [s for s in site.result.scores if s.name == YARDSTICK]
            if yard:
                out["yardstick_mase"] = round(yard[0].mase, 6)
        for scope, fit in self.scopes.items():
            out[f"{scope}_series"] = len(fit.ids)
            out[f"{scope}_mase"] = round(fit.mase_of({}), 6)
        return out


def fit_scope(panel: Panel, horizon: int, folds: int, per_series: bool) -> ScopeFit | None:
    """Backtest with as many folds as the history allows (None: too short for one); choose per series or one."""
    make: Callable[[], list[Model]] = machine_models if per_series else default_models
    has_data = ~np.isnan(panel.values).all(axis=1)
    if panel.length == 0 or not has_data.any():
        return None
    keep = np.flatnonzero(has_data)
    panel = Panel(panel.values[keep], panel.start, panel.step_s, tuple(panel.ids[i] for i in keep))
    for k in range(folds, 0, -1):
        try:
            result = backtest(panel, horizon, k, models=make)
        except NotEnoughHistory:
            continue
        names = result.selected_per_series() if per_series else [result.selected] * len(panel.ids)
        return ScopeFit(panel.ids, result, names)
    return None


def train(
    conn: psycopg.Connection[TupleRow],
    site: str,
    now: float,
    *,
    step_s: float,
    horizon_minutes: int,
    history_days: int,
    folds: int,
    max_machines: int,
) -> ForecasterFit:
    """Backtest the site and machine panels of the history window; NotEnoughHistory if neither can be."""
    horizon = horizon_steps(horizon_minutes, step_s)
    scopes: dict[str, ScopeFit] = {}
    site_fit = fit_scope(source.site_panel(conn, site, step_s, history_days, now), horizon, folds, per_series=False)
    if site_fit is not None:
        scopes["site"] = site_fit
    if max_machines:
        panel = source.machine_panel(conn, site, step_s, history_days, now, max_machines)
        machine_fit = fit_scope(panel, horizon, folds, per_series=True)
        if machine_fit is not None:
            scopes["machine"] = machine_fit
    if not scopes:
        raise NotEnoughHistory(f"not enough history to backtest a {horizon}-step horizon for site '{site}'")
    lo, hi = source.window(now, step_s, history_days)
    return ForecasterFit(scopes, (lo * step_s, hi * step_s), step_s, horizon)
