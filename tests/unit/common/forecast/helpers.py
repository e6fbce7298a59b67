"""Synthetic panels with known daily and weekly shapes, for the forecasting tests."""

from __future__ import annotations

import numpy as np
from gridwatch.common.forecast.panel import Panel

MONDAY = 1_704_067_200.0  # 2024-01-01 00:00 UTC, a Monday


def weekly_panel(
    series: int = 3, weeks: int = 5, step_s: float = 3600.0, noise: float = 0.03, seed: int = 1, ar: float = 0.9
) -> Panel:
    """Load with a daily shape, quieter weekends, a per-series scale and AR(1) noise (relative)."""
    rng = np.random.default_rng(seed)
    day = int(86_400 // step_s)
    t = np.arange(weeks * 7 * day)
    hour = (t % day) * 24.0 / day
    weekday = (t // day) % 7
    shape = 1.0 + 0.4 * np.sin(2 * np.pi * (hour - 8.0) / 24.0) - 0.3 * (weekday >= 5)
    scale = rng.uniform(10.0, 500.0, series)
    eps = np.zeros((series, t.size))
    shocks = rng.normal(0.0, noise, (series, t.size))
    for k in range(1, t.size):
        eps[:, k] = ar * eps[:, k - 1] + shocks[:, k]
    values = scale[:, None] * shape[None, :] * (1.0 + eps)
    return Panel(values, MONDAY, step_s, tuple(f"s{i}" for i in range(series)))
