"""The processor's settings expose the scorer's defaults instead of declaring their own."""

from __future__ import annotations

import pytest
from gridwatch.common.scoring import ScoringConfig, gaussian_decades
from gridwatch.processor.settings import ProcessorSettings


def test_default_settings_give_the_scorers_own_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GRIDWATCH_PROC_WARMUP", "GRIDWATCH_PROC_Z_ANOMALY", "GRIDWATCH_PROC_FOREST"):
        monkeypatch.delenv(name, raising=False)
    assert ProcessorSettings().scoring_config() == ScoringConfig()


def test_environment_overrides_reach_the_scorer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_PROC_Z_ANOMALY", "6")
    monkeypatch.setenv("GRIDWATCH_PROC_WARMUP", "20")
    cfg = ProcessorSettings().scoring_config()
    assert (cfg.z_anomaly, cfg.warmup) == (6.0, 20)
    assert cfg.likelihood_decades == pytest.approx(gaussian_decades(6.0))
    assert cfg.likelihood_decades > ScoringConfig().likelihood_decades
