"""Speed work on the scorer must not change its results: a fixed seeded stream against outputs recorded before it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from gridwatch.common.schema import SENSOR_TYPES
from gridwatch.common.scoring import Scorer, ScoringConfig

GOLDEN = Path(__file__).with_name("scoring_golden.npz")
SENSORS = 150
BATCHES = 120
FIELDS = ("source", "sensor", "ts", "z", "score", "anomaly", "probability", "kind", "status", "energy_delta")


def stream(seed: int = 11) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of (sensor, ts, value) like the processor's: shuffled, several readings of some sensors, replays,
    gaps, integer and idle-at-zero sensors, stuck runs, spikes and level shifts."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(-50, 500, SENSORS)
    noise = rng.uniform(0.1, 5.0, SENSORS)
    cadence = rng.choice([1.0, 5.0, 60.0, 300.0], SENSORS)
    integer = rng.random(SENSORS) < 0.15
    idle = rng.random(SENSORS) < 0.1
    clock = 1.7e9 + rng.uniform(0, 3600, SENSORS)
    last = level.copy()
    out = []
    for b in range(BATCHES):
        reps = rng.choice([0, 1, 1, 1, 2, 3], SENSORS)  # readings per sensor in this batch
        sensor = np.repeat(np.arange(SENSORS), reps)
        ts = np.empty(sensor.size)
        value = np.empty(sensor.size)
        i = 0
        for s, k in zip(range(SENSORS), reps, strict=True):
            for _ in range(k):
                gap = cadence[s] * (rng.uniform(20, 200) if rng.random() < 0.01 else rng.uniform(0.9, 1.1))
                clock[s] += gap
                daily = 10.0 * np.sin(2 * np.pi * (clock[s] % 86400) / 86400)
                x = level[s] + daily + rng.normal(0, noise[s])
                if integer[s]:
                    x = float(rng.poisson(3))
                if idle[s] and (b // 20) % 2 == 1:
                    x = 0.0
                r = rng.random()
                if r < 0.01:
                    x += 40 * noise[s] * rng.choice([-1, 1])  # spike
                elif r < 0.03 and b > 60:
                    x = last[s]  # stuck
                ts[i], value[i] = clock[s], x
                last[s] = x
                i += 1
            if rng.random() < 0.003:
                level[s] += 30 * noise[s]  # level shift
        if sensor.size > 4:  # replay of a reading already seen: skipped
            sensor = np.append(sensor, sensor[:2])
            ts = np.append(ts, ts[:2])
            value = np.append(value, value[:2])
        perm = rng.permutation(sensor.size)
        out.append((sensor[perm].astype(np.int64), ts[perm], value[perm]))
    return out


def run() -> dict[str, np.ndarray]:
    """Every batch's outputs concatenated, plus the final per-sensor model state."""
    scorer = Scorer(ScoringConfig())
    types = [i % len(SENSOR_TYPES) for i in range(SENSORS)]
    scorer.table.lookup([f"s{i}" for i in range(SENSORS)], [f"m{i % 7}" for i in range(SENSORS)], types)
    parts: dict[str, list[np.ndarray]] = {f: [] for f in FIELDS}
    skipped = []
    for sensor, ts, value in stream():
        res = scorer.score(sensor, ts, value)
        for f in FIELDS:
            parts[f].append(np.asarray(getattr(res, f)))
        skipped.append(res.skipped)
    out = {f: np.concatenate(v) for f, v in parts.items()}
    out["skipped"] = np.asarray(skipped)
    rows = np.arange(SENSORS, dtype=np.int64)
    out["model"] = np.frombuffer(b"".join(b[1:] for b in scorer.table.model_rows(rows)), dtype="<f4")
    t = scorer.table
    out["state"] = np.stack([t.mean[:SENSORS], t.var[:SENSORS], t.hazard[:SENSORS], t.energy_kwh[:SENSORS]])
    return out


def test_the_scorer_reproduces_the_recorded_outputs_of_a_seeded_stream() -> None:
    want = np.load(GOLDEN)
    got = run()
    assert got["anomaly"].any() and (got["kind"] > 0).any() and got["skipped"].sum() > 0  # the stream has substance
    for name in want.files:
        a, b = got[name], want[name]
        assert a.shape == b.shape, name
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:  # only when a change of results is intended
    recorded: dict[str, Any] = run()
    np.savez_compressed(GOLDEN, **recorded)
