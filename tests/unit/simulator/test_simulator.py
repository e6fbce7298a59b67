"""Simulator: determinism, fault labels and physical plausibility."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from gridwatch.common.schema import FaultKind, SensorType, decode, encode
from gridwatch.simulator.faults import KINDS
from gridwatch.simulator.generator import Generator
from gridwatch.simulator.settings import SimulatorSettings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def settings(**kw: object) -> SimulatorSettings:
    return SimulatorSettings(start_time=START, **kw)  # type: ignore[arg-type]


def run(gen: Generator, ticks: int) -> tuple[np.ndarray, np.ndarray]:
    values, labels = [], []
    for _ in range(ticks):
        t = gen.next_tick()
        values.append(t.values)
        labels.append(t.labels)
    return np.array(values), np.array(labels)


def test_same_seed_same_readings_and_labels() -> None:
    a_values, a_labels = run(Generator(settings(seed=5)), 200)
    b_values, b_labels = run(Generator(settings(seed=5)), 200)
    c_values, _ = run(Generator(settings(seed=6)), 200)
    assert np.array_equal(a_values, b_values)
    assert np.array_equal(a_labels, b_labels)
    assert not np.array_equal(a_values, c_values)


def test_default_layout_has_300_sensors_of_six_types() -> None:
    gen = Generator(settings())
    assert gen.layout.size == 300
    assert set(gen.layout.types) == set(SensorType)
    assert len(set(gen.layout.sensor_ids)) == 300


def test_fault_rate_and_every_kind_labelled() -> None:
    gen = Generator(settings(anomaly_rate=0.05, seed=1))
    _, labels = run(gen, 1500)
    rate = float((labels >= 0).mean())
    assert 0.035 < rate < 0.065, rate
    assert {KINDS[k] for k in np.unique(labels[labels >= 0])} == set(FaultKind)


def test_faults_change_the_values_the_way_their_label_says() -> None:
    gen = Generator(settings(anomaly_rate=0.1, seed=3))
    prev = None
    seen: set[FaultKind] = set()
    for _ in range(600):
        tick = gen.next_tick()
        for i in np.flatnonzero(tick.labels >= 0)[:50]:
            kind = KINDS[tick.labels[i]]
            if kind is FaultKind.DROPOUT:
                assert tick.values[i] == 0.0
            elif kind is FaultKind.STUCK and prev is not None:
                assert tick.values[i] == prev[i]
            seen.add(kind)
        prev = tick.values
    assert FaultKind.DROPOUT in seen
    assert FaultKind.STUCK in seen


def test_power_current_and_temperature_move_together() -> None:
    gen = Generator(settings(anomaly_rate=0.0, sample_interval_ms=60_000))
    values, _ = run(gen, 24 * 60)  # one simulated day at one-minute steps
    ids = gen.layout.sensor_ids
    power = values[:, ids.index("m00000-power")]
    current = values[:, ids.index("m00000-current")]
    temperature = values[:, ids.index("m00000-temperature")]
    assert np.corrcoef(power, current)[0, 1] > 0.9
    assert np.corrcoef(power, temperature)[0, 1] > 0.5
    assert power.max() > 1.2 * power.min()  # the daily/shift profile is visible
    assert np.all(values[:, ids.index("m00000-voltage")] > 350)


def test_batches_encode_and_decode_with_labels() -> None:
    gen = Generator(settings(anomaly_rate=0.2, sensors=1200, sensors_per_gateway=500))
    tick = gen.next_tick()
    batches = list(gen.batches(tick, 1_700_000_000.0))
    assert [len(b.sensor_ids) for _, b in batches] == [500, 500, 200]
    total_faults = 0
    for _, b in batches:
        decoded = decode(encode(b))
        assert decoded == b
        total_faults += len(b.fault_index)
    assert total_faults == int((tick.labels >= 0).sum())


def test_runs_100k_sensors() -> None:
    gen = Generator(settings(sensors=100_000))
    tick = gen.next_tick()
    assert tick.values.shape == (100_000,)
    assert np.isfinite(tick.values).all()
