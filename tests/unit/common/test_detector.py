"""The detector's rules: stuck vs idle vs integer, level shifts, gaps, cadence, calibration bounds, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.schema import TYPE_CODE
from gridwatch.common.scoring import (
    KINDS,
    MODEL_WIDTH,
    BatchResult,
    Scorer,
    ScoringConfig,
    anomaly_score,
    gaussian_decades,
)

CFG = ScoringConfig()


def _one(sensor_type: str = "power") -> tuple[Scorer, np.ndarray]:
    scorer = Scorer(CFG)
    idx, _ = scorer.table.lookup(["s"], ["m"], [TYPE_CODE[sensor_type]])
    return scorer, idx


def _run(values: np.ndarray, ts: np.ndarray, scorer: Scorer | None = None) -> list[BatchResult]:
    sc, idx = (scorer, np.zeros(1, dtype=np.int64)) if scorer is not None else _one()
    return [sc.score(idx, np.array([t]), np.array([v])) for t, v in zip(ts, values, strict=True)]


def _flags(results: list[BatchResult]) -> tuple[np.ndarray, list[str]]:
    return np.array([bool(r.anomaly[0]) for r in results]), [KINDS[int(r.kind[0])] for r in results]


def _noise(n: int, seed: int = 0, level: float = 100.0, sd: float = 1.0) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0, sd, n)


def test_a_signal_that_varied_and_stopped_is_stuck_within_two_readings() -> None:
    v = _noise(400)
    v[300:330] = v[299]
    flags, kinds = _flags(_run(v, 1e9 + np.arange(400.0)))
    assert not flags[:300].any()
    assert all(k == "stuck" for k in kinds[301:330])  # the second identical reading already proves it
    assert not flags[335:].any()


@pytest.mark.slow
def test_idle_at_zero_and_integer_counts_are_not_stuck() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    running = (np.arange(n) // 200) % 2 == 0  # 200 readings running, 200 idle at exactly 0, repeatedly
    idle = np.where(running, 50 + rng.normal(0, 1, n), 0.0)
    _, kinds = _flags(_run(idle, 1e9 + 60 * np.arange(n, dtype=float)))
    assert "stuck" not in kinds[400:]
    counts = rng.poisson(3, n).astype(float)  # integer data repeats all the time
    flags, kinds = _flags(_run(counts, 1e9 + 60 * np.arange(n, dtype=float)))
    assert "stuck" not in kinds and flags[200:].mean() < 0.01


def test_a_level_shift_is_flagged_then_absorbed_within_the_documented_readings() -> None:
    v = _noise(900, seed=2)
    v[600:] += 15.0  # a new steady level, 15 standard deviations up
    flags, _ = _flags(_run(v, 1e9 + np.arange(900.0)))
    assert flags[600]  # the shift itself is an anomaly
    # the level absorbs it in shift_readings; the long-run deviation d/sqrt(n·d²/H) falls below z_anomaly = 4.5
    # after H / 4.5² readings whatever the size of the step (docs/scoring.md)
    bound = CFG.shift_readings + int(CFG.history_readings / 4.5**2) + 1
    assert not flags[600 + bound :].any()
    assert flags[600 : 600 + bound].sum() <= bound


def test_a_gap_is_not_an_anomaly_and_does_not_count_as_a_reading() -> None:
    ts = 1e9 + 300.0 * np.arange(600)
    ts[400:] += 6 * 3600  # a six-hour outage of a 5-minute sensor
    scorer, _ = _one()
    flags, _ = _flags(_run(_noise(600, seed=3), ts, scorer))
    assert not flags[20:].any()
    assert np.exp(scorer.table.log_cadence[0]) == pytest.approx(300.0, rel=0.05)  # the gap did not skew it


@pytest.mark.slow
def test_irregular_sampling_keeps_the_cadence_and_the_false_alarm_rate() -> None:
    rng = np.random.default_rng(4)
    ts = 1e9 + np.cumsum(rng.uniform(0.5, 1.5, 3000))
    scorer, _ = _one()
    flags, _ = _flags(_run(_noise(3000, seed=4), ts, scorer))
    assert flags[20:].mean() < 0.002
    assert np.exp(scorer.table.log_cadence[0]) == pytest.approx(1.0, rel=0.15)


@pytest.mark.parametrize("cadence_s", [0.1, 1.0, 60.0, 300.0, 900.0])
def test_every_cadence_flags_a_spike_and_reaches_critical_on_a_persistent_fault(cadence_s: float) -> None:
    n = 600
    v = _noise(n, seed=5)
    v[400] = 160.0  # spike
    v[500:510] = 0.0  # dropout of 10 readings (under shift_readings: longer ones are absorbed as a new level)
    results = _run(v, 1e9 + cadence_s * np.arange(n, dtype=float))
    flags, kinds = _flags(results)
    prob = np.array([r.probability[0] for r in results])
    status = np.array([r.status[0] for r in results])
    assert flags[400] and kinds[400] == "spike"
    assert flags[500:510].all() and kinds[505] == "dropout"
    assert prob[500:510].max() >= CFG.critical_probability and status[509] == 2  # critical, on any cadence
    assert not flags[20:400].any() and prob[20:400].max() < CFG.warning_probability
    assert prob[-1] < prob[509] / 2  # decays after recovery


@pytest.mark.slow
def test_a_daily_square_wave_is_not_an_anomaly_once_learnt() -> None:
    cadence = 300.0
    n = 288 * 10
    ts = 1e9 - (1e9 % 86400) + cadence * np.arange(n)
    hour = (ts % 86400) / 3600
    rng = np.random.default_rng(6)
    v = np.where((hour >= 8) & (hour < 18), 80.0, 20.0) + rng.normal(0, 0.5, n)
    flags, _ = _flags(_run(v, ts))
    assert flags[288 * 4 :].mean() < 0.005  # after a few days the daily switches are not anomalies


def test_scores_are_bounded_increasing_and_do_not_tie_at_the_top() -> None:
    d = np.array([0.0, 1.0, CFG.likelihood_decades, 100.0, 1e3, 1e5, 1e8])
    s = anomaly_score(d, CFG.likelihood_decades)
    assert s[0] == 0.0 and s[2] == pytest.approx(0.5, abs=1e-3)
    assert np.all(np.diff(s) > 0) and np.all(s < 1.0)
    assert gaussian_decades(4.5) == pytest.approx(CFG.likelihood_decades, abs=0.01)
    v = _noise(400, seed=7)
    v[[300, 330, 360, 390]] += [30.0, 60.0, 120.0, 240.0]  # ever larger spikes, alarm_gap apart, rank ever higher
    res = _run(v, 1e9 + np.arange(400.0))
    top = [res[i].score[0] for i in (300, 330, 360, 390)]
    assert all(0 <= x < 1 for x in top) and top == sorted(top) and len(set(top)) == 4


def test_model_state_round_trips_so_a_restart_continues() -> None:
    scorer, idx = _one()
    v = _noise(500, seed=8)
    ts = 1e9 + np.arange(500.0)
    for t, x in zip(ts[:400], v[:400], strict=True):
        scorer.score(idx, np.array([t]), np.array([x]))
    blob = scorer.table.model_rows(idx)[0]
    assert len(blob) == 1 + 4 * MODEL_WIDTH
    other, idx2 = _one()
    t0 = scorer.table
    o = other.table
    for name in ("last_ts", "last_value", "count", "mean", "var", "hazard"):  # what the sensor state carries
        getattr(o, name)[0] = getattr(t0, name)[0]
    assert o.load_model(0, blob)
    assert not o.load_model(0, b"\x09" + blob[1:])  # another format version is ignored, not misread
    a = [scorer.score(idx, np.array([t]), np.array([x])).score[0] for t, x in zip(ts[400:], v[400:], strict=True)]
    b = [other.score(idx2, np.array([t]), np.array([x])).score[0] for t, x in zip(ts[400:], v[400:], strict=True)]
    assert np.allclose(a, b, atol=1e-3)


def test_an_episode_neither_blinds_the_sensor_to_the_next_nor_outlasts_its_return() -> None:
    v = _noise(600, seed=21)
    v[200:210] = 0.0  # an earlier dropout: its flagged readings teach the tail rates almost nothing
    v[400:440] += 2.0 * np.arange(40)  # a drift of 2 noise scales per reading
    flags, kinds = _flags(_run(v, 1e9 + np.arange(600.0)))
    assert flags[405:440].all() and set(kinds[410:440]) == {"drift"}
    assert not flags[440:].any()  # back at the anchor: no run of flags while a level shift is absorbed


def test_episode_kinds_held_spike_drift_to_zero_dropout_and_a_sudden_ramp() -> None:
    v = _noise(900, seed=22)
    v[300:302] = 180.0  # a spike held for two readings is a spike, not stuck
    v[500:540] = np.maximum(v[500:540] - 4.0 * np.arange(40), 0.0)  # a drift down to 0 stays a drift
    v[700:708] = 0.0  # a sudden 0 is a dropout
    v[800:830] += 15.0 * np.arange(1, 31)  # a ramp whose first step is as sudden as a spike
    flags, kinds = _flags(_run(v, 1e9 + np.arange(900.0)))
    assert kinds[300:302] == ["spike", "spike"]
    assert kinds[800] == "spike" and set(kinds[801:830]) == {"drift"}  # it keeps moving away: a drift from then on
    assert flags[526:540].all() and set(kinds[515:540]) == {"drift"}
    assert kinds[700:708] == ["dropout"] * 8


def test_a_spike_that_recurs_at_the_same_time_every_day_stops_ranking_as_a_novelty() -> None:
    cadence = 300.0
    n = 288 * 8
    ts = 1e9 - (1e9 % 86400) + cadence * np.arange(n)
    v = _noise(n, seed=23, level=0.1, sd=0.01)
    daily = np.flatnonzero((ts % 86400) == 10 * 3600 + 300)  # 10:05 every day
    v[daily] = 1.6
    res = _run(v, ts)
    scores = np.array([res[i].score[0] for i in daily])
    # the first one is a novelty; once its hour has seen a day, the long-run deviation is judged against the hour's
    # own spread and only the residual's tail (which flagged readings barely teach) still speaks
    assert scores[0] > 0.99 and scores[1] > 0.95
    assert np.all(scores[3:] < 0.6)
    flags, _ = _flags(res)
    assert flags[288 * 3 :].sum() <= len(daily)  # nothing but those spikes


def test_a_daily_idle_at_a_setpoint_is_not_stuck_but_a_noisy_signal_that_stops_still_is() -> None:
    # noise-free and hourly: 12 identical readings per hour at 5 min, idle at exactly 20.0 from 18:00 to 07:00
    cadence = 300.0
    n = 288 * 8
    ts = 1e9 - (1e9 % 86400) + cadence * np.arange(n)
    hour = (ts % 86400) // 3600
    v = np.where((hour >= 7) & (hour < 18), 20.0 + 5.0 * (hour - 6), 20.0)
    _, kinds = _flags(_run(v, ts))
    assert "stuck" not in kinds[288 * 2 :]  # the idle run is as long as the ones it makes every day
    noisy = _noise(400, seed=24)
    noisy[300:330] = noisy[299]
    _, kinds = _flags(_run(noisy, 1e9 + np.arange(400.0)))
    assert all(k == "stuck" for k in kinds[301:330])


def test_the_score_reaches_the_threshold_once_per_alarm_while_every_anomalous_reading_is_flagged() -> None:
    v = _noise(700, seed=25)
    v[300:310] = 160.0  # one sustained fault
    v[500] = 160.0  # a new one, after more than alarm_gap quiet readings
    res = _run(v, 1e9 + np.arange(700.0))
    flags, _ = _flags(res)
    score = np.array([r.score[0] for r in res])
    prob = np.array([r.probability[0] for r in res])
    assert flags[300:310].all() and flags[500]
    assert score[300] >= 0.5 and np.all(score[301:310] < 0.5)  # one alarm, its later readings just below
    assert np.all(np.diff(score[301:310]) < 0)  # and fading, so they rank under any new alarm
    assert prob[309] > prob[300] and prob[309] >= CFG.critical_probability  # the hazard counts every flag
    assert score[500] >= 0.5  # a new alarm
    gapless = Scorer(ScoringConfig(alarm_gap=0))
    gapless.table.lookup(["s"], ["m"], [TYPE_CODE["power"]])
    res0 = _run(v, 1e9 + np.arange(700.0), gapless)
    assert all(r.score[0] >= 0.5 for r in res0[300:310])  # without the gap, every flagged reading is an alarm


def test_evidence_a_sensor_shows_often_counts_less_for_it_than_for_a_quiet_sensor() -> None:
    n = 6000
    ts = 1e9 + np.arange(float(n))
    quiet = _noise(n, seed=26)
    spiky = quiet.copy()
    spiky[500:-1:150] += 12.0  # a 12-sigma spike every 150 readings: this sensor's normal
    quiet[-1] = spiky[-1] = quiet[-2] + 12.0
    a = _run(quiet, ts)[-1]
    b = _run(spiky, ts)[-1]
    assert a.anomaly[0] and a.score[0] >= 0.5
    assert b.score[0] < a.score[0] - 0.1


def test_a_second_fault_like_the_first_is_flagged_like_the_first() -> None:
    v = _noise(900, seed=27, level=30.0, sd=0.1)
    for start in (300, 600):  # two overheats of the same sensor, 300 readings apart
        v[start : start + 30] += 1.5 * np.arange(1, 31)
    scorer, _ = _one("temperature")
    flags, kinds = _flags(_run(v, 1e9 + np.arange(900.0), scorer))
    first, second = flags[300:330], flags[600:630]
    assert first[2:].all() and second[2:].all()  # the first episode taught the tail once, not 30 times
    assert set(kinds[605:630]) == {"overheat"}


def test_a_sustained_excursion_outranks_a_blip_of_the_same_size_and_leaves_the_flags_per_reading() -> None:
    n = 6000
    ts = 1e9 + np.arange(float(n))
    spiky = _noise(n, seed=26)
    spiky[500:-10:150] += 12.0  # a 12-sigma spike every 150 readings: this sensor's normal
    blip, held = spiky.copy(), spiky.copy()
    blip[-5] = 112.0  # one more of them
    held[-5:-2] = 112.0  # the same deviation held for 3 readings
    a, b = _run(blip, ts), _run(held, ts)
    assert a[-5].score[0] == pytest.approx(b[-5].score[0])  # the first reading cannot know what follows
    best = max(r.score[0] for r in b[-5:-2])
    assert best >= CFG.threshold > a[-5].score[0] + 0.05  # the run adds up its readings' evidence, the blip is usual
    alone = Scorer(ScoringConfig(run_decay=0.0))  # a run then counts only its own reading
    alone.table.lookup(["s"], ["m"], [TYPE_CODE["power"]])
    c = _run(held, ts, alone)
    assert [r.anomaly[0] for r in b] == [r.anomaly[0] for r in c]  # the flag judges each reading alone
    assert max(r.score[0] for r in c[-5:-2]) < CFG.threshold
