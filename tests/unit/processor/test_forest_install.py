"""A forest installed from the registry is served as is: the scorer never fits or replaces it locally."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forest import ArrayForest
from gridwatch.common.scoring import Scorer, ScoringConfig, fit_forest


def stream(scorer: Scorer, n: int = 400, sensors: int = 50) -> None:
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(sensors)]
    idx, _ = scorer.table.lookup(ids, ids, [0] * sensors)
    for t in range(n):
        values = 100.0 + rng.normal(size=sensors)
        scorer.score(idx, np.full(sensors, 1_700_000_000.0 + t), values)


def test_installed_forest_is_kept_and_nothing_is_fitted_locally() -> None:
    rng = np.random.default_rng(1)
    forest = fit_forest(np.column_stack([rng.normal(size=3000), rng.normal(size=3000), np.zeros(3000)]), 20, 7)
    scorer = Scorer(ScoringConfig(forest=True, forest_train_rows=256))
    scorer.install_forest(forest)
    stream(scorer)
    assert scorer.forest is forest and scorer.forest_threshold == forest.threshold_score
    assert scorer._train_rows == 0


def test_local_fit_still_happens_without_a_registry() -> None:
    scorer = Scorer(ScoringConfig(forest=True, forest_train_rows=256))
    stream(scorer)
    assert isinstance(scorer.forest, ArrayForest)


def test_feature_sink_collects_warm_rows_without_the_forest_stage() -> None:
    scorer = Scorer(ScoringConfig(forest=False))
    sink: list[np.ndarray] = []
    scorer.feature_sink = sink
    stream(scorer, n=100, sensors=10)
    rows = np.concatenate(sink)
    assert rows.shape == (10 * (100 - 50), 3)  # warm-up of 50 readings per sensor
    assert scorer.forest is None


def test_a_forest_of_other_features_is_refused() -> None:
    rng = np.random.default_rng(2)
    from sklearn.ensemble import IsolationForest

    wrong = ArrayForest.from_sklearn(IsolationForest(n_estimators=5).fit(rng.normal(size=(300, 2))))
    with pytest.raises(ValueError, match="2 features"):
        Scorer(ScoringConfig()).install_forest(wrong)
