"""The promotion rule: a candidate replaces the served model only when it beats it by the margin."""

from __future__ import annotations

from gridwatch.common.registry import ModelKind, decide


def test_promotes_when_nothing_serves() -> None:
    out = decide(ModelKind.FORECASTER, 0.9, None, 0.02)
    assert out.promote and "no model in service" in out.reason


def test_needs_to_beat_the_served_model_by_the_margin() -> None:
    assert decide(ModelKind.FORECASTER, 0.97, 1.0, 0.02).promote
    assert decide(ModelKind.FORECASTER, 0.98, 1.0, 0.02).promote  # exactly at the bar
    kept = decide(ModelKind.DETECTOR, 0.99, 1.0, 0.02)
    assert not kept.promote and "mass_volume 0.9900 does not beat" in kept.reason
    assert decide(ModelKind.FORECASTER, 1.0, 1.0, 0.0).promote  # a zero margin accepts a tie
    assert not decide(ModelKind.FORECASTER, 1.01, 1.0, 0.0).promote  # worse never wins
