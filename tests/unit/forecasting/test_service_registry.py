"""A promoted (trained) selection replaces the forecaster's own backtest while it covers the panel's series."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.artifact import Artifact, ArtifactError, checksum, dumps, loads
from gridwatch.common.forecast.selection import selections_of
from gridwatch.common.schema import ForecastScope
from gridwatch.forecasting.service import ForecastService

from tests.unit.common.forecast.helpers import weekly_panel


def artifact(ids: list[str], models: list[str], scope: str = "machine") -> Artifact:
    n = len(ids)
    arrays = {f"{scope}_mase": np.full(n, 0.5), f"{scope}_yardstick_mase": np.full(n, 1.0)}
    return Artifact("forecaster", arrays, {"scopes": {scope: {"ids": ids, "models": models}}})


def test_installed_selection_is_served_with_its_version_and_scores() -> None:
    panel = weekly_panel(series=3, weeks=3)
    blob = dumps(artifact(list(panel.ids), ["seasonal_ar", "naive", "seasonal_naive_daily"]))
    service = ForecastService("s", 24, 1, 3600.0)
    service.install("forecaster-v4", selections_of(loads(blob, checksum(blob), "forecaster")))
    out = service.step(ForecastScope.MACHINE, panel, 0.0)
    assert [f.model for f in out] == ["seasonal_ar", "naive", "seasonal_naive_daily"]
    assert {f.model_version for f in out} == {"forecaster-v4"}
    assert {(f.backtest_mase, f.yardstick_mase) for f in out} == {(0.5, 1.0)}
    assert service.selections_made == 0  # no backtest ran here


def test_a_series_the_trainer_never_saw_falls_back_to_a_local_selection() -> None:
    panel = weekly_panel(series=3, weeks=3)
    service = ForecastService("s", 24, 1, 3600.0)
    service.install("forecaster-v4", selections_of(artifact(list(panel.ids[:2]), ["naive", "naive"])))
    out = service.step(ForecastScope.MACHINE, panel, 0.0)
    assert {f.model_version for f in out} == {"local-1"}


def test_a_selection_of_unknown_models_is_refused() -> None:
    with pytest.raises(ArtifactError, match="does not run"):
        selections_of(artifact(["a"], ["gbm"]))  # the machine scope runs only the vectorized point models
    with pytest.raises(ArtifactError, match="no model for any scope"):
        selections_of(Artifact("forecaster", {}, {"scopes": {}}))
