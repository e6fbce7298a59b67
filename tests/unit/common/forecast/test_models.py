"""The forecasting models: shapes, sorted quantiles, what each one must get right."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forecast.models import Decomposition, GradientBoosting, Naive, SeasonalNaive
from gridwatch.common.forecast.panel import NotEnoughHistory, Panel

from tests.unit.common.forecast.helpers import MONDAY, weekly_panel

SMALL_GBM = {"max_iter": 30, "max_rows": 20_000}


def test_seasonal_naive_repeats_last_week() -> None:
    p = weekly_panel(series=2, weeks=3)
    q = SeasonalNaive("weekly").fit(p, 24).predict(30)
    assert q.shape == (2, 30, 3)
    np.testing.assert_allclose(q[:, :, 1], p.values[:, -p.week : -p.week + 30])
    assert (q[:, :, 0] <= q[:, :, 1]).all() and (q[:, :, 1] <= q[:, :, 2]).all()
    assert (q[:, :, 2] - q[:, :, 0] > 0).all()


def test_daily_naive_and_naive_names() -> None:
    p = weekly_panel(series=1, weeks=2)
    daily = SeasonalNaive("daily").fit(p, 24).predict(24)
    np.testing.assert_allclose(daily[0, :, 1], p.values[0, -24:])
    last = Naive().fit(p, 24).predict(5)
    np.testing.assert_allclose(last[0, :, 1], p.values[0, -1])
    assert {SeasonalNaive("weekly").name, SeasonalNaive("daily").name} == {"seasonal_naive", "seasonal_naive_daily"}


def test_decomposition_follows_a_level_shift_seasonal_naive_cannot() -> None:
    p = weekly_panel(series=1, weeks=4, noise=0.0)
    y = p.values.copy()
    y[:, -p.day * 2 :] += 50.0  # the level rose two days ago
    shifted = Panel(y, p.start, p.step_s, p.ids)
    truth = weekly_panel(series=1, weeks=5, noise=0.0).values[:, y.shape[1] : y.shape[1] + 24] + 50.0
    dec = Decomposition().fit(shifted, 24).predict(24)[:, :, 1]
    naive = SeasonalNaive().fit(shifted, 24).predict(24)[:, :, 1]
    assert np.abs(dec - truth).mean() < 0.5 * np.abs(naive - truth).mean()


def test_gbm_is_global_and_sorted() -> None:
    p = weekly_panel(series=4, weeks=5)
    model = GradientBoosting(**SMALL_GBM).fit(p, 24)  # type: ignore[arg-type]
    q = model.predict(24)
    assert q.shape == (4, 24, 3)
    assert (np.diff(q, axis=2) >= 0).all()
    # one model for every series: each forecast sits at its own series' scale
    level = p.values[:, -p.week :].mean(axis=1)
    ratio = q[:, :, 1].mean(axis=1) / level
    assert np.all((ratio > 0.7) & (ratio < 1.3))


def test_gbm_predicts_other_histories_without_refit() -> None:
    p = weekly_panel(series=2, weeks=5, seed=3)
    other = weekly_panel(series=6, weeks=3, seed=4)
    model = GradientBoosting(**SMALL_GBM).fit(p, 24)  # type: ignore[arg-type]
    q = model.predict_from(other.filled(), other, 24)
    assert q.shape == (6, 24, 3)
    with pytest.raises(NotEnoughHistory):
        model.predict_from(other.filled()[:, : other.week], other, 24)


def test_short_history_is_refused_with_the_needed_length() -> None:
    p = Panel.single(np.arange(30.0), MONDAY, 3600.0)
    with pytest.raises(NotEnoughHistory, match="seasonal_naive needs 172"):
        SeasonalNaive().fit(p, 24)
    with pytest.raises(NotEnoughHistory, match="gbm needs"):
        GradientBoosting().fit(p, 24)
    assert Naive().fit(p, 24).predict(3).shape == (1, 3, 3)


def test_levels_are_checked() -> None:
    p = weekly_panel(series=1, weeks=2)
    model = SeasonalNaive().fit(p, 24)
    assert model.predict(4, (5, 50, 95)).shape == (1, 4, 3)
    with pytest.raises(ValueError, match="between 1 and 99"):
        model.predict(4, (0, 50))


@pytest.mark.parametrize("weeks", [1, 2, 3])  # a daily season only, the switch to the weekly one, weekly only
def test_seasonal_ar_one_pass_inner_errors_equal_refitting_at_every_origin(weeks: int) -> None:
    from gridwatch.common.forecast.models import SeasonalAR, _PointModel

    p = weekly_panel(series=4, weeks=weeks, step_s=1800.0)
    y = p.filled()
    model = SeasonalAR()
    fast, fast_h = model.inner_errors(y, p, p.day)
    # the base class refits on y[:, :cut] at every origin (a single cut: deviation_parts on the cut history)
    slow, slow_h = _PointModel.inner_errors(model, y, p, p.day)
    assert fast_h == slow_h and len(fast) == len(slow) > 1
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * float(np.abs(y).max()))
    state = model._fit_point(y, p)
    direct = SeasonalAR()._states_at(y[:, : y.shape[1] - 7], p, [y.shape[1] - 7])[0]
    again = SeasonalAR()._states_at(y, p, [y.shape[1], y.shape[1] - 7])
    np.testing.assert_allclose(again[1].phi, direct.phi, atol=1e-12)
    np.testing.assert_allclose(again[0].level, state.level, atol=1e-9)


def test_seasonal_ar_fitted_state_owns_its_last_season() -> None:
    """The inner origins' states are views into the history; the kept state must not be, or a later change to
    the caller's array would change the forecast."""
    from gridwatch.common.forecast.models import SeasonalAR

    p = weekly_panel(series=3, weeks=3, step_s=1800.0)
    y = p.filled()
    model = SeasonalAR()
    state, _, _ = model._fit_with_errors(y, p, p.day)
    before = model._predict_point(state, p.day)
    y[:] = -1.0
    assert not np.shares_memory(state.last_period, y)
    np.testing.assert_array_equal(model._predict_point(state, p.day), before)
    assert not np.shares_memory(model._fit_point(p.filled(), p).last_period, p.filled())


def test_grid_quantiles_and_window_sums_match_numpy() -> None:
    from gridwatch.common.forecast.models import _GRID, grid_quantiles, window_sum, window_sums

    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 333))
    np.testing.assert_allclose(grid_quantiles(x), np.quantile(x, _GRID / 100.0, axis=1).T, atol=1e-12)
    bounds = [(0, 10), (5, 333), (100, 250), (332, 333)]
    expected = np.stack([x[:, a:b].sum(axis=1) for a, b in bounds], axis=1)
    np.testing.assert_allclose(window_sums(x, bounds), expected, atol=1e-10)
    rows = rng.integers(0, 6, 50)
    for ends in (np.full(50, 300), rng.integers(40, 333, 50)):  # one origin (the forecaster), many (training)
        expected_rows = np.array([x[i, e - 40 : e].sum() for i, e in zip(rows, ends, strict=True)])
        np.testing.assert_allclose(window_sum(x, rows, ends, 40), expected_rows, atol=1e-10)
