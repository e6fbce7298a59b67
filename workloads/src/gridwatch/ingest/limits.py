"""Plausible ranges at the edge: physically impossible values and clock-broken timestamps are bad input, not data."""

from __future__ import annotations

from typing import Final

from gridwatch.common.schema import PLAUSIBLE, SensorType

# PLAUSIBLE (common.schema, shared with the processor's screen) is the widest value a real sensor of each type can
# report; checking it here too refuses a broken reading with its gateway and location instead of downstream.

# The processor dead-letters a whole batch holding a reading from beyond these bounds, so the edge drops
# those readings one by one instead (the same bounds as gridwatch.processor.runner).
MAX_CLOCK_SKEW_S: Final = 300.0
MAX_AGE_S: Final = 7 * 86400.0
__all__ = ["MAX_AGE_S", "MAX_CLOCK_SKEW_S", "PLAUSIBLE", "ts_problem", "value_problem"]


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
