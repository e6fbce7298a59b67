"""NAB scorer: sigmoid values, null and perfect detectors, the sweep and the normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gridwatch.evaluation.nab import (
    MAX_TP,
    NO_DETECTION,
    PROFILES,
    Corpus,
    build_corpus,
    label_file,
    load_corpus,
    normalize,
    optimise,
    probation,
    scaled_sigmoid,
    score_at,
)

NAB_DEV = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nab-dev"


def _stamps(n: int) -> np.ndarray:
    return np.datetime64("2015-01-01T00:00:00") + np.arange(n) * np.timedelta64(300, "s")


def _edge(ts: np.ndarray, i: int) -> str:
    return str(ts[i]).replace("T", " ") + ".000000"


def _corpus() -> Corpus:
    """Three files: two windows, one window, none."""
    series = {}
    windows: dict[str, list[list[str]]] = {}
    for name, n, spans in (
        ("a.csv", 2000, [(900, 1000), (1500, 1600)]),
        ("b.csv", 1200, [(700, 760)]),
        ("c.csv", 900, []),
    ):
        ts = _stamps(n)
        series[name] = (ts, np.zeros(n))
        windows[name] = [[_edge(ts, lo), _edge(ts, hi)] for lo, hi in spans]
    return build_corpus(Path("."), series, windows)


def _perfect(c: Corpus) -> dict[str, np.ndarray]:
    out = {}
    for f in c.files:
        s = np.zeros(f.rows)
        w = np.r_[np.full(f.first, -1), f.window]
        firsts = np.flatnonzero((w >= 0) & (np.r_[-1, w[:-1]] != w))
        s[firsts] = 1.0
        out[f.name] = s
    return out


def test_scaled_sigmoid_matches_the_reference_values() -> None:
    y = np.array([-1.0, -0.5, 0.0, 1.0, 3.5])
    assert np.allclose(scaled_sigmoid(y), [0.98661, 0.84828, 0.0, -0.98661, -1.0], atol=1e-5)
    assert abs(MAX_TP - 0.98661) < 1e-5
    assert probation(1000) == 150 and probation(10_000) == 750


def test_row_positions_follow_the_sweeper() -> None:
    ts = _stamps(100)
    f = label_file("x", ts, [(_edge(ts, 40), _edge(ts, 49))])
    sig = np.r_[np.full(f.first, np.nan), f.sigma]
    assert f.first == 15
    assert sig[39] == -1.0  # before the first window
    assert sig[40] == pytest.approx(MAX_TP)  # first window row: y = -1
    assert sig[49] == pytest.approx(float(scaled_sigmoid(np.array([-0.1]))[0]))  # last row: y = -1/w
    assert sig[50] == pytest.approx(float(scaled_sigmoid(np.array([1 / 9]))[0]))  # |i - R'| / (w' - 1)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_null_detector_scores_zero_and_perfect_scores_hundred(profile: object) -> None:
    c = _corpus()
    null = {f.name: np.full(f.rows, 0.5) for f in c.files}
    got = optimise(c, null, profile)  # type: ignore[arg-type]
    assert got.threshold == NO_DETECTION and got.normalized == pytest.approx(0.0)
    assert score_at(c, null, profile, 0.5).normalized < 0  # type: ignore[arg-type]
    best = optimise(c, _perfect(c), profile)  # type: ignore[arg-type]
    assert best.normalized == pytest.approx(100.0) and best.fp == 0 and best.fn == 0 and best.threshold == 1.0


@pytest.mark.slow
def test_sweep_picks_the_best_threshold_and_agrees_with_scoring_at_it() -> None:
    c = _corpus()
    rng = np.random.default_rng(3)
    noisy = {}
    for name, s in _perfect(c).items():
        noise = rng.uniform(0, 0.7, s.size)
        noisy[name] = np.maximum(s * rng.uniform(0.6, 1.0, s.size), noise)
    for profile in PROFILES:
        best = optimise(c, noisy, profile)
        brute = max(
            (score_at(c, noisy, profile, float(t)) for t in np.unique(np.concatenate(list(noisy.values())))),
            key=lambda r: (r.raw, r.threshold),
        )
        assert best.raw == pytest.approx(max(brute.raw, -profile.fn * c.windows))
        assert best.raw == pytest.approx(score_at(c, noisy, profile, best.threshold).raw)


def test_late_detection_earns_less_and_false_positives_cost_per_row() -> None:
    c = _corpus()
    std = PROFILES[0]
    late = {f.name: np.zeros(f.rows) for f in c.files}
    late["b.csv"][760] = 1.0  # last row of b's only window
    r = score_at(c, late, std, 1.0)
    w = 61
    assert c.windows == 3 and r.tp == 1 and r.fn == 2
    assert r.raw == pytest.approx(-2.0 + float(scaled_sigmoid(np.array([-1 / w]))[0]) / MAX_TP)
    fps = {f.name: np.zeros(f.rows) for f in c.files}
    fps["c.csv"][500:520] = 1.0  # file without windows: every row costs A_FP
    r = score_at(c, fps, std, 1.0)
    assert r.fp == 20 and r.raw == pytest.approx(-3.0 - 20 * 0.11)


def test_normalisation_matches_the_published_artime_full_corpus_figure() -> None:
    assert normalize(57.6608, 116, PROFILES[0]) == pytest.approx(74.854, abs=1e-3)


@pytest.mark.skipif(not NAB_DEV.is_dir(), reason="NAB development set not present beside the checkout")
def test_nab_dev_set_loads_with_its_91_windows_and_bounds_hold() -> None:
    c = load_corpus(NAB_DEV)
    assert len(c.files) == 45 and c.windows == 91
    for profile in PROFILES:
        null = {f.name: np.full(f.rows, 0.5) for f in c.files}
        assert optimise(c, null, profile).normalized == pytest.approx(0.0)
        assert optimise(c, _perfect(c), profile).normalized == pytest.approx(100.0)


@pytest.mark.slow
@pytest.mark.skipif(not NAB_DEV.is_dir(), reason="NAB development set not present beside the checkout")
def test_docs_anomaly_quality_holds_the_scores_of_the_current_detector() -> None:
    from gridwatch.evaluation.anomaly import nab_scores, stream_corpus
    from gridwatch.processor.detect import default_config

    config = default_config()
    c = load_corpus(NAB_DEV)
    mine = nab_scores(c, stream_corpus(c, config).score, config.threshold)
    doc = (Path(__file__).resolve().parents[3] / "docs" / "anomaly-quality.md").read_text()
    names = [p.name for p in PROFILES]
    optimised = " | ".join(f"{mine[n][0].normalized:.2f}" for n in names)
    default = " | ".join(f"{mine[n][1].normalized:.2f}" for n in names)
    # stale after a detector change: `make eval-anomaly` regenerates the whole page
    assert f"| **Gridwatch, threshold optimised by NAB** | {optimised} |" in doc
    assert f"| **Gridwatch at its default threshold ({config.threshold})** | {default} |" in doc
