"""Percentile summaries of latency samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def summary_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/p99/max in milliseconds and the sample count (all 0 without samples)."""
    if not samples_s:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    arr = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(arr, [50, 95, 99]).tolist()
    return {
        "n": int(arr.size),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(float(arr.max()), 1),
    }
