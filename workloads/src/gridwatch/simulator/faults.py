"""Fault injection: spike, drift, stuck-at, overheating ramp and dropout episodes with labels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gridwatch.common.schema import FaultKind, SensorType

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
KINDS: tuple[FaultKind, ...] = tuple(FaultKind)
# mean episode length in ticks for each kind, in KINDS order
DURATION = {
    FaultKind.SPIKE: (1, 3),
    FaultKind.DRIFT: (20, 60),
    FaultKind.STUCK: (10, 40),
    FaultKind.OVERHEAT: (20, 60),
    FaultKind.DROPOUT: (3, 15),
}
MEAN_DURATION = float(np.mean([sum(v) / 2 for v in DURATION.values()]))


class FaultInjector:
    """Starts fault episodes at random so that about `rate` of readings are faulty, and applies them."""

    def __init__(self, sensors: int, types: list[SensorType], rate: float, rng: np.random.Generator) -> None:
        self.rng = rng
        self.rate = rate
        self.kind = np.full(sensors, -1, dtype=np.int64)
        self.remaining = np.zeros(sensors, dtype=np.int64)
        self.elapsed = np.zeros(sensors, dtype=np.int64)
        self.anchor = np.zeros(sensors)
        self.slope = np.zeros(sensors)
        self.last = np.full(sensors, np.nan)
        self.is_temperature = np.array([t is SensorType.TEMPERATURE for t in types])
        # probability that a healthy sensor starts an episode on a tick
        self.start_probability = rate / (MEAN_DURATION * (1.0 - rate)) if rate > 0 else 0.0

    def apply(self, values: F64) -> tuple[F64, I64]:
        """Return (observed values, fault kind code per sensor or -1) for one tick of true values."""
        n = values.size
        idle = self.kind < 0
        starting = idle & (self.rng.random(n) < self.start_probability)
        if starting.any():
            self._start(np.flatnonzero(starting), values)
        active = self.kind >= 0
        observed = values.copy()
        if active.any():
            idx = np.flatnonzero(active)
            kinds = self.kind[idx]
            self.elapsed[idx] += 1
            e = self.elapsed[idx].astype(np.float64)
            v = values[idx]
            out = v.copy()
            spike = kinds == KINDS.index(FaultKind.SPIKE)
            out[spike] = self.anchor[idx][spike]
            ramp = (kinds == KINDS.index(FaultKind.DRIFT)) | (kinds == KINDS.index(FaultKind.OVERHEAT))
            # a drifting sensor's offset grows with time but it cannot read below zero
            out[ramp] = np.maximum(v[ramp] + self.slope[idx][ramp] * e[ramp], 0.0)
            stuck = kinds == KINDS.index(FaultKind.STUCK)
            out[stuck] = self.anchor[idx][stuck]
            dropout = kinds == KINDS.index(FaultKind.DROPOUT)
            out[dropout] = 0.0
            observed[idx] = out
        self.last = observed
        labels = self.kind.copy()
        self.remaining[active] -= 1
        ended = active & (self.remaining <= 0)
        self.kind[ended] = -1
        self.elapsed[ended] = 0
        return observed, labels

    def _start(self, idx: I64, values: F64) -> None:
        rng = self.rng
        choices = rng.integers(0, len(KINDS), idx.size)
        # overheating ramps are a temperature fault; other sensors drift instead
        overheat = KINDS.index(FaultKind.OVERHEAT)
        drift = KINDS.index(FaultKind.DRIFT)
        choices = np.where((choices == overheat) & ~self.is_temperature[idx], drift, choices)
        self.kind[idx] = choices
        self.elapsed[idx] = 0
        lo = np.array([DURATION[KINDS[c]][0] for c in choices])
        hi = np.array([DURATION[KINDS[c]][1] for c in choices])
        self.remaining[idx] = rng.integers(lo, hi + 1)
        level = np.abs(values[idx]) + 1e-3
        sign = np.where(rng.random(idx.size) < 0.5, -1.0, 1.0)
        spike_value = values[idx] * (1.0 + sign * rng.uniform(0.4, 1.0, idx.size))
        # a stuck sensor repeats its previous reading from the first faulty tick on
        previous = self.last[idx]
        stuck_value = np.where(np.isnan(previous), values[idx], previous)
        self.anchor[idx] = np.where(choices == KINDS.index(FaultKind.SPIKE), spike_value, stuck_value)
        drift_slope = sign * level * rng.uniform(0.015, 0.04, idx.size)
        heat_slope = rng.uniform(0.8, 2.0, idx.size)
        self.slope[idx] = np.where(choices == overheat, heat_slope, drift_slope)
