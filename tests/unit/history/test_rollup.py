"""Rollups of enriched readings: aggregates per (sensor, minute), energy sums, duplicates, cut-off."""

from __future__ import annotations

import numpy as np
from gridwatch.common.schema import SCHEMA_VERSION, EnrichedBatch, SensorType, Status
from gridwatch.history.rollup import rollup

T0 = 1_800_000_000.0 - (1_800_000_000.0 % 60)  # a minute boundary


def batch(
    ids: list[str], types: list[SensorType], ts: list[float], values: list[float], energy: list[float] | None = None
) -> EnrichedBatch:
    n = len(ids)
    return EnrichedBatch(
        schema_version=SCHEMA_VERSION,
        site="s",
        sensor_ids=ids,
        types=types,
        ts=ts,
        values=values,
        score=[0.5 if v > 100 else 0.1 for v in values],
        anomaly=[v > 100 for v in values],
        failure_probability=[0.2] * n,
        status=[Status.NORMAL] * n,
        label=[""] * n,
        energy_kwh=[0.0] * n if energy is None else energy,
    )


def test_aggregates_per_sensor_and_minute() -> None:
    ts = [T0 + 10, T0 + 20, T0 + 30, T0 + 70]
    b = batch(["p"] * 4, [SensorType.POWER] * 4, ts, [10.0, 30.0, 200.0, 40.0], [0.5, 0.25, 0.125, 2.0])
    t = batch(["t"] * 2, [SensorType.TEMPERATURE] * 2, [T0 + 5, T0 + 6], [50.0, 52.0])
    r = rollup([b, t])
    rows = {(sid, m): i for i, (sid, m) in enumerate(zip(r.sensor_id, r.minute.tolist(), strict=True))}
    assert set(rows) == {("p", T0), ("p", T0 + 60), ("t", T0)}
    i = rows[("p", T0)]
    assert r.readings[i] == 3 and r.anomalies[i] == 1
    assert r.value_min[i] == 10.0 and r.value_max[i] == 200.0 and r.value_sum[i] == 240.0
    assert (r.first_ts[i], r.first_value[i], r.last_ts[i], r.last_value[i]) == (T0 + 10, 10.0, T0 + 30, 200.0)
    assert r.energy_kwh[i] == 0.5 + 0.25 + 0.125  # the processor's per-reading energy, summed per minute
    j = rows[("p", T0 + 60)]
    assert r.readings[j] == 1 and r.energy_kwh[j] == 2.0
    k = rows[("t", T0)]
    assert r.energy_kwh[k] == 0.0 and r.sensor_type[k] == "temperature"
    assert r.fp_max[i] == 0.2 and abs(r.fp_sum[i] - 0.6) < 1e-12 and r.score_max[i] == 0.5


def test_order_of_readings_and_batches_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    ts = (T0 + np.arange(150) * 1.0).tolist()
    vals = rng.uniform(0, 100, 150).tolist()
    energy = rng.uniform(0, 0.03, 150).tolist()
    ordered = rollup([batch(["p"] * 150, [SensorType.POWER] * 150, ts, vals, energy)])
    perm = rng.permutation(150)
    parts = [perm[:50], perm[50:90], perm[90:]]
    shuffled = rollup(
        [
            batch(
                ["p"] * len(h),
                [SensorType.POWER] * len(h),
                [ts[i] for i in h],
                [vals[i] for i in h],
                [energy[i] for i in h],
            )
            for h in reversed(parts)
        ]
    )
    assert ordered.readings.tolist() == [60, 60, 30]
    for col in ("readings", "value_sum", "value_min", "value_max", "first_ts", "last_value", "energy_kwh"):
        assert np.allclose(getattr(ordered, col), getattr(shuffled, col)), col


def test_repeats_are_dropped_once() -> None:
    ts = [T0 + 1, T0 + 1, T0 + 50]
    r = rollup([batch(["p"] * 3, [SensorType.POWER] * 3, ts, [5.0, 5.0, 8.0], [0.0, 0.0, 0.1])])
    assert r.duplicates == 1
    assert r.readings.tolist() == [2]
    assert r.energy_kwh.tolist() == [0.1]


def test_readings_older_than_the_cut_off_are_ignored() -> None:
    b = batch(["p", "p", "p"], [SensorType.POWER] * 3, [T0 - 100, T0 + 1, T0 + 2], [1.0, 2.0, 3.0], [9.0, 1.0, 2.0])
    r = rollup([b], min_ts=T0)
    assert r.readings.tolist() == [2] and r.first_value.tolist() == [2.0]
    assert r.energy_kwh.tolist() == [3.0]
    assert rollup([]).readings.size == 0
    assert r.days == {int(T0 // 86400)}
