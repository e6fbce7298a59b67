"""Plausible ranges at the edge: physically impossible values and clock-broken timestamps are bad input, not data."""

from __future__ import annotations

from typing import Final

from gridwatch.common.schema import SensorType

# Widest value a real sensor of each type can report, in the type's unit (common.schema.UNITS). Wide on purpose:
# they catch broken firmware (1e300 °C, -5 bar absolute), not unusual plants.
PLAUSIBLE: Final[dict[SensorType, tuple[float, float]]] = {
    SensorType.POWER: (-1_000_000.0, 1_000_000.0),  # kW; negative = generation
    SensorType.CURRENT: (-100_000.0, 100_000.0),  # A
    SensorType.VOLTAGE: (-1_500_000.0, 1_500_000.0),  # V
    SensorType.TEMPERATURE: (-273.15, 3000.0),  # °C: absolute zero to molten steel
    SensorType.PRESSURE: (-1.01325, 10_000.0),  # bar, gauge: a perfect vacuum to ultra-high-pressure
    SensorType.VIBRATION: (0.0, 1000.0),  # mm/s RMS
}
# The processor dead-letters a whole batch holding a reading from beyond these bounds, so the edge drops
# those readings one by one instead (the same bounds as gridwatch.processor.runner).
MAX_CLOCK_SKEW_S: Final = 300.0
MAX_AGE_S: Final = 7 * 86400.0


def value_problem(sensor_type: SensorType, value: float) -> str | None:
    """Why a value cannot be a real reading of its type, or None when it is plausible."""
    low, high = PLAUSIBLE[sensor_type]
    if not low <= value <= high:  # also false for NaN
        return f"value {value!r} outside the plausible {sensor_type.value} range [{low:g}, {high:g}]"
    return None


def ts_problem(ts: float, now: float) -> str | None:
    """Why a timestamp (seconds) cannot be accepted now, or None."""
    if not ts > now - MAX_AGE_S:
        return "timestamp more than 7 days old"
    if ts > now + MAX_CLOCK_SKEW_S:
        return "timestamp more than 5 minutes in the future"
    return None
