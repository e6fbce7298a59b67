"""Panel clock, gap filling and calendar."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forecast.panel import Panel, day_of_week, fill_gaps, slot_of_day

from tests.unit.common.forecast.helpers import MONDAY


def test_fill_gaps_carries_forward_and_back() -> None:
    y = np.array([[np.nan, 2.0, np.nan, np.nan, 5.0], [np.nan] * 5])
    assert fill_gaps(y).tolist() == [[2.0, 2.0, 2.0, 2.0, 5.0], [0.0] * 5]


def test_seasons_and_calendar() -> None:
    p = Panel.single(np.zeros(10), MONDAY, 1800.0)
    assert (p.day, p.week) == (48, 336)
    ts = p.time_at(np.array([0, 47, 48, 48 * 6]))
    assert slot_of_day(ts, 1800.0).tolist() == [0, 47, 0, 0]
    assert day_of_week(ts).tolist() == [0, 0, 1, 6]


def test_step_must_divide_a_day() -> None:
    with pytest.raises(ValueError, match="divide a day"):
        Panel.single(np.zeros(3), 0.0, 7 * 60.0)
