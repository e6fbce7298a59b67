"""The processor's settings expose the scorer's defaults instead of declaring their own."""

from __future__ import annotations

import pytest
from gridwatch.common.scoring import ScoringConfig, gaussian_decades
from gridwatch.processor.settings import ProcessorSettings
from pydantic import ValidationError


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


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GRIDWATCH_PROC_FOREST", "GRIDWATCH_POSTGRES_DSN", "GRIDWATCH_POSTGRES_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_by_default_a_processor_with_a_registry_serves_the_trained_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    alone = ProcessorSettings()
    assert alone.forest == "auto" and not alone.registry_detector and not alone.scoring_config().forest
    monkeypatch.setenv("GRIDWATCH_POSTGRES_DSN", "postgresql://gw@db/gw")
    with_registry = ProcessorSettings()
    assert with_registry.registry_detector and with_registry.scoring_config().forest
    # `gridwatch detect` has no registry: it never turns the forest on by itself
    assert not with_registry.scoring_config(registry=False).forest


@pytest.mark.parametrize(
    ("forest", "dsn", "registry", "stage"),
    [
        ("false", "postgresql://gw@db/gw", False, False),  # never a forest, even with a registry
        ("true", "", False, True),  # no registry: fitted in the replica, as before
        ("true", "postgresql://gw@db/gw", True, True),
    ],
)
def test_gridwatch_proc_forest_true_and_false_keep_their_meaning(
    monkeypatch: pytest.MonkeyPatch, forest: str, dsn: str, registry: bool, stage: bool
) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("GRIDWATCH_PROC_FOREST", forest)
    monkeypatch.setenv("GRIDWATCH_POSTGRES_DSN", dsn)
    settings = ProcessorSettings()
    assert (settings.registry_detector, settings.scoring_config().forest) == (registry, stage)


def test_an_unknown_forest_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("GRIDWATCH_PROC_FOREST", "sometimes")
    with pytest.raises(ValidationError, match="GRIDWATCH_PROC_FOREST"):
        ProcessorSettings()
