"""The compiled trees predict exactly what scikit-learn predicts, and refuse what they cannot reproduce."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forecast.models import GradientBoosting
from gridwatch.common.forecast.trees import compile_forest
from sklearn.ensemble import HistGradientBoostingRegressor

from tests.unit.common.forecast.helpers import weekly_panel


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=rows), rng.integers(0, 7, rows).astype(float), rng.uniform(0, 5, rows)])
    y = np.sin(x[:, 0]) + 0.3 * x[:, 1] * (x[:, 2] > 2.5) + rng.normal(0.0, 0.1, rows)
    return x, y


def _quantiles(x: np.ndarray, y: np.ndarray) -> list[HistGradientBoostingRegressor]:
    return [
        HistGradientBoostingRegressor(
            loss="quantile", quantile=q, max_iter=25, max_leaf_nodes=31, categorical_features=[1], random_state=0
        ).fit(x, y)
        for q in (0.1, 0.5, 0.9)
    ]


def test_the_same_numbers_as_sklearn_on_unseen_rows() -> None:
    x, y = _data(4_000, seed=1)
    regs = _quantiles(x, y)
    forest = compile_forest(regs, x[:500])
    assert forest is not None
    fresh, _ = _data(10_000, seed=2)  # rows the check never saw, more than one chunk
    mine = forest.predict(fresh)
    theirs = np.stack([r.predict(fresh) for r in regs], axis=1)
    assert np.array_equal(mine, theirs)


def test_factored_rows_give_the_same_numbers_and_inconsistent_keys_are_refused() -> None:
    x, y = _data(4_000, seed=3)
    regs = _quantiles(x, y)
    forest = compile_forest(regs, x[:500])
    assert forest is not None
    series, steps = 50, 40  # rows as the forecaster lays them out: feature 1 depends on the step only
    rng = np.random.default_rng(4)
    grid = np.column_stack(
        [
            rng.normal(size=series * steps),
            np.tile(np.arange(steps) % 7, series).astype(float),
            np.repeat(rng.uniform(0, 5, series), steps),  # feature 2: on the series only
        ]
    )
    step_key, series_key = np.tile(np.arange(steps), series), np.repeat(np.arange(series), steps)
    mine = forest.predict(grid, [(step_key, (1,)), (series_key, (2,))])
    assert np.array_equal(mine, np.stack([r.predict(grid) for r in regs], axis=1))
    with pytest.raises(ValueError, match="differs between rows"):
        forest.predict(grid, [(series_key, (0,))])  # feature 0 varies within a series


def test_regressors_binned_differently_are_not_compiled() -> None:
    x, y = _data(3_000, seed=5)
    other_x, other_y = _data(3_000, seed=6)
    first = _quantiles(x, y)[0]
    second = _quantiles(other_x, other_y)[1]
    assert compile_forest([first, second], x[:200]) is None


def test_gbm_forecasts_identical_with_and_without_the_compiled_trees() -> None:
    p = weekly_panel(series=5, weeks=5, seed=7)
    other = weekly_panel(series=30, weeks=3, seed=8)
    model = GradientBoosting(max_iter=30, max_rows=20_000).fit(p, 24)
    assert model.forest is not None
    fast = model.predict_from(other.filled(), other, 24)
    model.forest = None  # scikit-learn's own predict, quantile by quantile
    slow = model.predict_from(other.filled(), other, 24)
    assert np.array_equal(fast, slow)
