"""The trainer's fits and backtest metrics on synthetic data (no servers): what decides a promotion."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.training import detector, forecaster

from tests.unit.common.forecast.helpers import weekly_panel


def rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(size=n), rng.normal(size=n), (rng.random(n) < 0.01).astype(float)])


def test_detector_holds_out_the_latest_rows_and_refuses_too_few() -> None:
    data = rows(5000)
    train, holdout = detector.split(data)
    assert train.shape[0] == 4000 and np.array_equal(holdout, data[4000:])
    with pytest.raises(detector.NotEnoughData, match="100 feature rows"):
        detector.fit(rows(100), 20, 7, 2000)


def test_mass_volume_prefers_a_forest_that_learnt_the_data_over_one_that_did_not() -> None:
    data = rows(6000)
    learnt, holdout = detector.fit(data, 50, 7, 2000)
    rng = np.random.default_rng(9)
    other = np.column_stack([rng.uniform(-20, 20, 6000), rng.uniform(-20, 20, 6000), rng.random(6000) < 0.5])
    wrong, _ = detector.fit(other.astype(float), 50, 7, 2000)
    good = detector.evaluate(learnt, holdout, 7)
    bad = detector.evaluate(wrong, holdout, 7)
    assert 0 < good["mass_volume"] < bad["mass_volume"]
    assert good == detector.evaluate(learnt, holdout, 7)  # same seed, same number: comparable across runs


def test_forecaster_metric_judges_the_served_selection_on_the_same_folds() -> None:
    panel = weekly_panel(series=3, weeks=3, step_s=3600.0)
    fit = forecaster.fit_scope(panel, 24, 2, per_series=True)
    assert fit is not None and len(fit.models) == 3
    mine = fit.mase_of({})
    served = fit.mase_of(dict.fromkeys(fit.ids, "naive"))
    assert mine <= served  # the candidate's per-series choice is the best on these folds
    assert fit.mase_of({"unknown-series": "naive"}) == mine  # a series the served model never saw: the new choice
