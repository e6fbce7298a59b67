"""A panel of regular time series (series x time) with its clock, seasons and calendar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
DAY_S = 86_400.0


class NotEnoughHistory(ValueError):
    """A model or backtest was given fewer observations than it needs; the text says how many."""


@dataclass(frozen=True)
class Panel:
    """`values[i, t]` is series i at `start + t * step_s` (epoch seconds); NaN marks a missing value."""

    values: F64
    start: float
    step_s: float
    ids: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError("a panel's values are a 2-D array (series x time)")
        if len(self.ids) != self.values.shape[0]:
            raise ValueError(f"{len(self.ids)} ids for {self.values.shape[0]} series")
        if self.step_s <= 0 or DAY_S % self.step_s:
            raise ValueError(f"the step ({self.step_s:g} s) must divide a day")

    @classmethod
    def single(cls, values: F64, start: float, step_s: float, name: str = "series") -> Panel:
        """A panel of one series."""
        return cls(np.asarray(values, dtype=np.float64).reshape(1, -1), start, step_s, (name,))

    @property
    def length(self) -> int:
        """Observations per series."""
        return int(self.values.shape[1])

    @property
    def day(self) -> int:
        """Steps per day: the daily season."""
        return int(DAY_S // self.step_s)

    @property
    def week(self) -> int:
        """Steps per week: the weekly season."""
        return 7 * self.day

    def head(self, t: int) -> Panel:
        """The first `t` observations of every series."""
        return Panel(self.values[:, :t], self.start, self.step_s, self.ids)

    def time_at(self, index: I64 | F64) -> F64:
        """Epoch seconds of time indices (may lie beyond the panel's end)."""
        return self.start + np.asarray(index, dtype=np.float64) * self.step_s

    def filled(self) -> F64:
        """Values with gaps carried forward (and leading gaps carried back); all-missing series become 0."""
        return fill_gaps(self.values)


def fill_gaps(values: F64) -> F64:
    """Carry the last observed value forward over NaNs along time, then the first one back over leading NaNs."""
    y = np.array(values, dtype=np.float64, copy=True)
    missing = np.isnan(y)
    if not missing.any():
        return y
    t = np.arange(y.shape[1])
    last = np.where(~missing, t, 0)
    np.maximum.accumulate(last, axis=1, out=last)
    y = np.take_along_axis(y, last, axis=1)
    first_idx = np.argmax(~missing, axis=1)
    first_val = y[np.arange(y.shape[0]), first_idx]
    lead = t[None, :] < first_idx[:, None]
    y = np.where(lead, first_val[:, None], y)
    return np.nan_to_num(y, nan=0.0)


def slot_of_day(ts: F64, step_s: float) -> I64:
    """Index of the step within its UTC day."""
    return np.asarray(np.floor((ts % DAY_S) / step_s), dtype=np.int64)


def day_of_week(ts: F64) -> I64:
    """UTC day of week, Monday = 0."""
    return np.asarray((np.floor(ts / DAY_S).astype(np.int64) + 3) % 7, dtype=np.int64)
