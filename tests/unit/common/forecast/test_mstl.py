"""The multi-seasonal decomposition model: it separates a daily and a weekly season and follows the level."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forecast.models import SeasonalNaive
from gridwatch.common.forecast.mstl import MultiSeasonal, cycle_profile, moving_average, tricube_weights
from gridwatch.common.forecast.panel import NotEnoughHistory, Panel

from tests.unit.common.forecast.helpers import MONDAY, weekly_panel


def test_tricube_weights_favour_the_newest_cycle() -> None:
    w = tricube_weights(5)
    assert w.shape == (5,)
    assert (np.diff(w) > 0).all() and w[-1] == pytest.approx(1.0) and w[0] > 0.0


def test_moving_average_removes_a_season_of_its_width() -> None:
    t = np.arange(200)
    x = (3.0 + np.sin(2 * np.pi * t / 24.0))[None, :]
    ma = moving_average(x, 24)
    np.testing.assert_allclose(ma[0, 12:-12], 3.0, atol=1e-9)


def test_cycle_profile_is_indexed_by_absolute_phase() -> None:
    period = 4
    t = np.arange(3 * period + 2)  # does not start or end on a cycle boundary
    x = np.array([0.0, 1.0, 2.0, 3.0])[t % period][None, :]
    prof = cycle_profile(x, period, 5)
    np.testing.assert_allclose(prof[0], np.array([0.0, 1.0, 2.0, 3.0]) - 1.5)


def test_separates_daily_and_weekly_seasons_and_follows_a_level_shift() -> None:
    p = weekly_panel(series=2, weeks=5, noise=0.0)
    y = p.values.copy()
    y[:, -p.day :] += 40.0  # the level rose a day ago
    shifted = Panel(y, p.start, p.step_s, p.ids)
    truth = weekly_panel(series=2, weeks=6, noise=0.0).values[:, y.shape[1] : y.shape[1] + 24] + 40.0
    q = MultiSeasonal().fit(shifted, 24).predict(24)
    assert q.shape == (2, 24, 3)
    assert (np.diff(q, axis=2) >= 0).all()
    naive = SeasonalNaive().fit(shifted, 24).predict(24)[:, :, 1]
    assert np.abs(q[:, :, 1] - truth).mean() < 0.2 * np.abs(naive - truth).mean()


def test_a_noiseless_double_seasonal_series_is_forecast_almost_exactly() -> None:
    p = weekly_panel(series=1, weeks=4, noise=0.0)
    truth = weekly_panel(series=1, weeks=5, noise=0.0).values[:, p.length : p.length + 48]
    q = MultiSeasonal().fit(p, 48).predict(48)[:, :, 1]
    assert np.abs(q - truth).max() < 1e-6 * np.abs(truth).max()


def test_short_history_uses_the_daily_season_only_and_is_refused_below_two_days() -> None:
    p = weekly_panel(series=1, weeks=1, noise=0.0)  # one week: no weekly season to estimate
    q = MultiSeasonal().fit(p, 24).predict(24)[0, :, 1]
    shape = p.values[0, -24:] - p.values[0, -24:].mean()  # the last day's shape, which every day shares
    amplitude = np.abs(shape).max()
    assert np.abs((q - q.mean()) - shape).max() < 0.1 * amplitude
    short = Panel.single(np.ones(30), MONDAY, 3600.0)
    with pytest.raises(NotEnoughHistory, match="mstl needs"):
        MultiSeasonal().fit(short, 24)
