"""ArrayForest scores exactly like the scikit-learn IsolationForest it was copied from, also after a save/load."""

from __future__ import annotations

import numpy as np
from gridwatch.common.artifact import checksum, dumps, loads
from gridwatch.common.forest import ArrayForest
from sklearn.ensemble import IsolationForest


def test_scores_match_scikit_learn_and_survive_the_artifact() -> None:
    rng = np.random.default_rng(3)
    train = np.column_stack([rng.normal(size=5000), rng.normal(size=5000) * 2, rng.random(5000) < 0.01])
    forest = IsolationForest(n_estimators=50, max_samples=256, contamination=0.002, random_state=7).fit(train)
    probe = np.vstack([rng.normal(size=(2000, 3)) * 3, [[40.0, -40.0, 1.0], [0.0, 0.0, 0.0]]])
    arrays = ArrayForest.from_sklearn(forest)
    np.testing.assert_allclose(arrays.score_samples(probe), forest.score_samples(probe), rtol=1e-12, atol=1e-12)
    assert arrays.threshold_score == -forest.offset_
    blob = dumps(arrays.to_artifact({"features": ["z", "dz", "stuck"]}))
    loaded = ArrayForest.from_artifact(loads(blob, checksum(blob), "detector"))
    np.testing.assert_array_equal(loaded.score_samples(probe), arrays.score_samples(probe))


def test_feature_subsets_map_back_to_input_columns() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(2000, 4)) * np.array([1.0, 5.0, 0.1, 2.0])
    forest = IsolationForest(n_estimators=30, max_features=2, random_state=0).fit(train)
    probe = rng.normal(size=(500, 4)) * 4
    np.testing.assert_allclose(
        ArrayForest.from_sklearn(forest).score_samples(probe), forest.score_samples(probe), rtol=1e-12
    )
