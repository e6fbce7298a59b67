"""Vectorized plant model: machines with daily, shift and duty-cycle load driving correlated sensors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridwatch.common.schema import SensorType

F64 = npt.NDArray[np.float64]

# rated kW, temperature rise at full load (°C), base pressure (bar), base vibration (mm/s)
MACHINE_KINDS: dict[str, tuple[float, float, float, float]] = {
    "motor": (75.0, 35.0, 2.0, 2.8),
    "compressor": (160.0, 45.0, 8.0, 4.5),
    "pump": (45.0, 25.0, 5.5, 3.2),
    "furnace": (400.0, 120.0, 1.2, 1.1),
    "hvac": (30.0, 15.0, 3.0, 1.8),
    "conveyor": (15.0, 20.0, 1.0, 5.0),
}
NOMINAL_VOLTAGE = 400.0
POWER_FACTOR = 0.9


@dataclass(frozen=True)
class Layout:
    """Which machine and type each sensor is, and the ids everything refers to."""

    sensor_ids: list[str]
    machine_of: npt.NDArray[np.int64]
    machine_ids: list[str]
    machine_kinds: list[str]
    types: list[SensorType]

    @property
    def size(self) -> int:
        """Number of sensors."""
        return len(self.sensor_ids)


def build_layout(sensors: int, mix: list[SensorType], rng: np.random.Generator) -> Layout:
    """Put `sensors` sensors on machines, one sensor of each type in `mix` per machine."""
    per_machine = len(mix)
    machines = math.ceil(sensors / per_machine)
    kinds = list(MACHINE_KINDS)
    machine_kinds = [kinds[k] for k in rng.integers(0, len(kinds), size=machines)]
    machine_ids = [f"m{m:05d}" for m in range(machines)]
    machine_of = np.arange(sensors, dtype=np.int64) // per_machine
    types = [mix[i % per_machine] for i in range(sensors)]
    sensor_ids = [f"{machine_ids[machine_of[i]]}-{types[i].value}" for i in range(sensors)]
    return Layout(sensor_ids, machine_of, machine_ids, machine_kinds, types)


class Plant:
    """State of every machine; `step` advances virtual time and returns true sensor values."""

    def __init__(self, layout: Layout, rng: np.random.Generator, start_hour: float) -> None:
        self.layout = layout
        self.rng = rng
        m = len(layout.machine_ids)
        params = np.array([MACHINE_KINDS[k] for k in layout.machine_kinds], dtype=np.float64)
        self.rated_kw = params[:, 0] * rng.uniform(0.8, 1.2, m)
        self.temp_rise = params[:, 1] * rng.uniform(0.9, 1.1, m)
        self.base_pressure = params[:, 2] * rng.uniform(0.9, 1.1, m)
        self.base_vibration = params[:, 3] * rng.uniform(0.9, 1.1, m)
        self.utilisation = rng.uniform(0.55, 0.9, m)
        self.duty_period = rng.uniform(300.0, 900.0, m)
        self.duty_phase = rng.uniform(0.0, 2 * math.pi, m)
        self.night_crew = rng.random(m) < 0.3  # machines that keep running at night
        self.load_noise = np.zeros(m)
        self.start_hour = start_hour
        self.temperature = np.full(m, np.nan)
        t = layout.types
        self.type_index = {ty: np.array([i for i, s in enumerate(t) if s is ty], dtype=np.int64) for ty in set(t)}

    def load(self, seconds: float) -> F64:
        """Per-machine load factor (0..1.1) at virtual time `seconds` after the start."""
        hour = (self.start_hour + seconds / 3600.0) % 24.0
        diurnal = 0.85 + 0.15 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        day = 1.0 / (1.0 + math.exp(-(hour - 6.0) * 4)) - 1.0 / (1.0 + math.exp(-(hour - 22.0) * 4))
        shift = np.where(self.night_crew, 1.0, 0.45 + 0.55 * day)
        duty = 0.92 + 0.08 * np.sin(2 * math.pi * seconds / self.duty_period + self.duty_phase)
        self.load_noise = 0.9 * self.load_noise + self.rng.normal(0.0, 0.004, self.load_noise.size)
        load: F64 = np.clip(diurnal * shift * duty * self.utilisation + self.load_noise, 0.05, 1.1)
        return load

    def step(self, seconds: float, dt: float) -> F64:
        """True values of every sensor at virtual time `seconds` (dt since the previous step)."""
        load = self.load(seconds)
        hour = (self.start_hour + seconds / 3600.0) % 24.0
        ambient = 22.0 + 4.0 * math.sin(2 * math.pi * (hour - 10.0) / 24.0)
        target = ambient + self.temp_rise * load
        if np.isnan(self.temperature).any():
            self.temperature = target.copy()
        self.temperature += (target - self.temperature) * min(1.0, dt / 300.0)
        rng = self.rng
        m = load.size
        power = self.rated_kw * load * (1.0 + rng.normal(0.0, 0.01, m))
        voltage = NOMINAL_VOLTAGE * (1.0 - 0.02 * load) + rng.normal(0.0, 0.8, m)
        current = power * 1000.0 / (math.sqrt(3.0) * voltage * POWER_FACTOR) * (1.0 + rng.normal(0.0, 0.01, m))
        temperature = self.temperature + rng.normal(0.0, 0.15, m)
        pressure = self.base_pressure * (0.7 + 0.3 * load) * (1.0 + rng.normal(0.0, 0.01, m))
        vibration = self.base_vibration * (0.6 + 0.4 * load) * (1.0 + rng.normal(0.0, 0.03, m))
        by_type = {
            SensorType.POWER: power,
            SensorType.CURRENT: current,
            SensorType.VOLTAGE: voltage,
            SensorType.TEMPERATURE: temperature,
            SensorType.PRESSURE: pressure,
            SensorType.VIBRATION: vibration,
        }
        values = np.empty(self.layout.size)
        machine_of = self.layout.machine_of
        for sensor_type, idx in self.type_index.items():
            values[idx] = by_type[sensor_type][machine_of[idx]]
        return values
