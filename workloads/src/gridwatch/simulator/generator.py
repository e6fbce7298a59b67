"""Deterministic reading generator: layout, plant and faults driven by one seeded RNG."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from gridwatch.common.schema import SCHEMA_VERSION, FaultKind, ReadingBatch, ReadingSource
from gridwatch.simulator.faults import KINDS, FaultInjector
from gridwatch.simulator.plant import Layout, Plant, build_layout
from gridwatch.simulator.settings import SimulatorSettings


@dataclass(frozen=True)
class Tick:
    """Observed values and fault labels (-1 = healthy) of every sensor at one tick."""

    index: int
    values: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]


class Generator:
    """Produces ticks of readings; the same seed and start time give the same values."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        rng = np.random.default_rng(settings.seed)
        self.layout: Layout = build_layout(settings.sensors, settings.mix, rng)
        start = settings.start_time or datetime.now(UTC)
        start_hour = start.hour + start.minute / 60.0 + start.second / 3600.0
        self.plant = Plant(self.layout, rng, start_hour)
        self.faults = FaultInjector(self.layout.size, self.layout.types, settings.anomaly_rate, rng)
        self.dt = settings.sample_interval_ms / 1000.0
        self.tick = 0
        spg = settings.sensors_per_gateway
        self.gateways = [
            (g, slice(s, min(s + spg, self.layout.size))) for g, s in enumerate(range(0, self.layout.size, spg))
        ]
        self._ids = [self.layout.sensor_ids[s] for _, s in self.gateways]
        self._machines = [[self.layout.machine_ids[m] for m in self.layout.machine_of[s]] for _, s in self.gateways]
        self._types = [self.layout.types[s] for _, s in self.gateways]
        self.seq = 0

    def next_tick(self) -> Tick:
        """Advance virtual time by one sample interval."""
        true_values = self.plant.step(self.tick * self.dt, self.dt)
        observed, labels = self.faults.apply(true_values)
        tick = Tick(self.tick, observed, labels)
        self.tick += 1
        return tick

    def batches(self, tick: Tick, timestamp: float) -> Iterator[tuple[str, ReadingBatch]]:
        """Split one tick into per-gateway batches, each stamped with `timestamp`."""
        site = self.settings.site
        for (g, span), ids, machines, types in zip(self.gateways, self._ids, self._machines, self._types, strict=True):
            values = tick.values[span]
            labels = tick.labels[span]
            faulty = np.flatnonzero(labels >= 0)
            gateway = f"gw{g:04d}"
            yield (
                gateway,
                ReadingBatch(
                    schema_version=SCHEMA_VERSION,
                    site=site,
                    gateway=gateway,
                    seq=self.seq,
                    sensor_ids=ids,
                    machines=machines,
                    types=types,
                    ts=[timestamp] * len(ids),
                    values=values.tolist(),
                    fault_index=faulty.tolist(),
                    fault_kind=[KINDS[k] for k in labels[faulty]],
                    source=ReadingSource.SIMULATED,
                ),
            )
            self.seq += 1


def label_name(code: int) -> str:
    """Fault kind name of a label code, '' when healthy."""
    return KINDS[code].value if code >= 0 else ""


__all__ = ["FaultKind", "Generator", "Tick", "label_name"]
