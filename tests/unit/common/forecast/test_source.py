"""History windows and trimming of the forecaster's PostgreSQL source (the SQL itself runs in the integration test)."""

from __future__ import annotations

import numpy as np
from gridwatch.common.forecast.panel import Panel
from gridwatch.common.forecast.source import _trim, machine_of, window


def test_window_leaves_out_the_step_in_progress() -> None:
    lo, hi = window(now=10_000.0, step_s=900.0, days=1)
    assert hi == 11  # 10,000 s is inside step 11 (9,900..10,800): only steps 0..10 are complete
    assert hi - lo == 96


def test_trim_drops_the_leading_steps_without_data() -> None:
    values = np.array([[np.nan, np.nan, 1.0, np.nan, 2.0], [np.nan, np.nan, np.nan, 3.0, np.nan]])
    p = _trim(Panel(values, 0.0, 900.0, ("a", "b")))
    assert p.start == 1800.0 and p.length == 3
    empty = _trim(Panel(np.full((1, 4), np.nan), 0.0, 900.0, ("a",)))
    assert empty.length == 0 and empty.start == 3600.0


def test_machine_of_power_sensor() -> None:
    assert machine_of("m00012-power") == "m00012"
    assert machine_of("press-7") == "press-7"
