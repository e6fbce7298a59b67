"""A combination of point models chosen per series by their errors at rolling origins inside the training history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridwatch.common.forecast.models import (
    DEFAULT_LEVELS,
    SeasonalAR,
    _calibrate,
    _Calibrated,
    _PointModel,
    check_levels,
)
from gridwatch.common.forecast.mstl import MultiSeasonal
from gridwatch.common.forecast.panel import F64, NotEnoughHistory, Panel

LEVEL_SPANS_DAYS = (0.05, 1.0, 7.0)  # a fast, a daily and a weekly level
DAILY_CYCLES = (7, 56)  # a daily shape of the last week, or of the last eight weeks


def default_members() -> list[_PointModel]:
    """The seasonal AR and a small grid of multi-seasonal models (with and without the weekly season, a short and
    a long daily window, three level spans): structurally different forecasts for the ensemble to choose from."""
    grid: list[_PointModel] = [
        MultiSeasonal(span, 15, cycles, weekly)
        for weekly in (True, False)
        for cycles in DAILY_CYCLES
        for span in LEVEL_SPANS_DAYS
    ]
    return [SeasonalAR(), *grid]


@dataclass
class EnsembleState:
    """The members' fitted states and each series' weights over them."""

    states: list[Any]
    weights: F64  # (series, members): 1/k on each series' k best members, 0 elsewhere


class Ensemble:
    """The mean of each series' `top` best member models, ranked by their errors inside the history.

    Every member is refitted at the same rolling origins inside the training history (the point models'
    calibration origins: 14 days, 4 a day, each forecasting up to a day ahead); a series' members are ranked by
    their mean absolute error there, and its forecast is the mean of the best `top`. Combining a few good
    forecasts of different structure usually beats each of them; the ranking never looks past the history. The
    P10-P90 band comes from the combination's own errors at those origins (the mean of its members' errors).
    """

    name = "ensemble"

    def __init__(self, members: Sequence[_PointModel], top: int = 3, name: str = "ensemble") -> None:
        if not members or top < 1:
            raise ValueError("an ensemble needs at least one member and top >= 1")
        self.members = list(members)
        self.top = min(top, len(self.members))
        self.name = name
        self._state: EnsembleState | None = None
        self._calibrated: _Calibrated | None = None
        self.ranking: list[list[str]] = []  # per series: member names, best first

    def min_history(self, panel: Panel) -> int:
        """Every member's own need plus a day of inner origins."""
        return max(m._needs(panel) for m in self.members) + panel.day

    def fit(self, panel: Panel, horizon: int) -> Ensemble:
        """Fit every member, rank them per series by their inner errors, keep the weights and the band."""
        y = panel.filled()
        n, t_len = y.shape
        if t_len < self.min_history(panel):
            raise NotEnoughHistory(f"{self.name} needs {self.min_history(panel)} observations, got {t_len}")
        states = [m._fit_point(y, panel) for m in self.members]
        per_member = [m.inner_errors(y, panel, horizon) for m in self.members]
        origins = min(len(e) for e, _ in per_member)  # newest first: the first `origins` cuts are shared
        cal_h = per_member[0][1]
        errors = [e[:origins] for e, _ in per_member]
        mae = np.stack([np.mean([np.abs(x).mean(axis=1) for x in e], axis=0) for e in errors], axis=1)  # (n, m)
        order = np.argsort(mae, axis=1, kind="stable")
        weights = np.zeros((n, len(self.members)))
        np.put_along_axis(weights, order[:, : self.top], 1.0 / self.top, axis=1)
        combined = [sum(weights[:, k, None] * errors[k][c] for k in range(len(self.members))) for c in range(origins)]
        self._calibrated = _calibrate([np.asarray(c, dtype=np.float64) for c in combined], cal_h, n)
        self._state = EnsembleState(states, weights)
        self.ranking = [[self.members[k].name for k in row] for row in order]
        return self

    def point(self, h: int) -> F64:
        """The combined point forecast of the next `h` steps."""
        if self._state is None:
            raise RuntimeError(f"{self.name} is not fitted")
        out = np.zeros((self._state.weights.shape[0], h))
        for k, (member, state) in enumerate(zip(self.members, self._state.states, strict=True)):
            wk = self._state.weights[:, k]
            if wk.any():
                out += wk[:, None] * member._predict_point(state, h)
        return out

    def predict(self, h: int, levels: Sequence[int] = DEFAULT_LEVELS) -> F64:
        """Quantile forecasts of the next `h` steps: the combined point and its own calibrated band."""
        if self._calibrated is None:
            raise RuntimeError(f"{self.name} is not fitted")
        return self._calibrated.band(self.point(h), check_levels(levels))
