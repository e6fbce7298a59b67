"""The rolling-origin backtest: folds, metrics, selection."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forecast.backtest import backtest, fold_origins, mase_scale, pinball
from gridwatch.common.forecast.models import GradientBoosting, Model, Naive, SeasonalNaive
from gridwatch.common.forecast.panel import NotEnoughHistory, Panel

from tests.unit.common.forecast.helpers import MONDAY, weekly_panel


def _light() -> list[Model]:
    return [SeasonalNaive("weekly"), SeasonalNaive("daily"), Naive(), GradientBoosting(max_iter=30, max_rows=20_000)]


def test_fold_origins_end_one_horizon_before_the_end() -> None:
    assert fold_origins(100, 10, 3) == [70, 80, 90]


def test_metrics_by_hand() -> None:
    history = np.array([[1.0, 3.0, 1.0, 3.0]])
    assert mase_scale(history, 1).tolist() == [2.0]
    actual = np.array([[2.0]])
    q = np.array([[[1.0, 2.0, 4.0]]])
    # 0.1*(2-1) + 0 + 0.1*(4-2): the P90 over-forecast costs (1-0.9) per unit
    assert pinball(actual, q, (10, 50, 90))[0, 0] == pytest.approx((0.1 + 0.0 + 0.2) / 3)


def test_yardstick_on_a_purely_weekly_series_is_exact() -> None:
    p = weekly_panel(series=2, weeks=4, noise=0.0)
    r = backtest(p, 24, 3, models=lambda: [SeasonalNaive("weekly"), Naive()])
    sn = r.score("seasonal_naive")
    assert sn.mase == pytest.approx(0.0, abs=1e-9)
    assert sn.coverage_p10_p90 == 1.0
    assert r.selected == "seasonal_naive"
    assert r.score("naive").mase > 0.1


@pytest.mark.slow
def test_selection_and_json_shape() -> None:
    p = weekly_panel(series=3, weeks=5)
    r = backtest(p, 24, 2, models=_light)
    d = r.as_dict()
    models = [s.as_dict() for s in r.scores]
    assert d["models"] == models
    names = [m["name"] for m in models]
    assert names == ["seasonal_naive", "seasonal_naive_daily", "naive", "gbm"]
    best = min(r.scores, key=lambda s: s.mase)
    assert d["selected"] == best.name
    for m in models:
        assert set(m) == {"name", "mase", "smape", "pinball", "coverage_p10_p90"}
        assert 0.0 <= float(m["coverage_p10_p90"]) <= 1.0
    assert len(r.selected_per_series()) == 3


def test_models_that_lack_history_are_skipped_and_named() -> None:
    p = weekly_panel(series=1, weeks=2)
    r = backtest(p, 24, 2, models=_light)
    assert "gbm" in r.skipped
    assert "gbm" not in [s.name for s in r.scores]


def test_too_short_for_the_folds() -> None:
    with pytest.raises(NotEnoughHistory, match="3 folds of 24 steps"):
        backtest(Panel.single(np.ones(60), MONDAY, 3600.0), 24, 3)
