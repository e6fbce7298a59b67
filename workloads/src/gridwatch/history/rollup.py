"""Turn enriched readings into per-(sensor, minute) partial aggregates that PostgreSQL merges."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gridwatch.common.schema import EnrichedBatch

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

COLUMNS = (
    "sensor_id",
    "sensor_type",
    "minute",
    "readings",
    "anomalies",
    "value_sum",
    "value_min",
    "value_max",
    "first_ts",
    "first_value",
    "last_ts",
    "last_value",
    "energy_kwh",
    "fp_sum",
    "fp_max",
    "score_max",
)


@dataclass(frozen=True)
class Rollups:
    """Column-wise partial aggregates, one entry per (sensor, minute) seen in a batch.

    Every column merges with another partial aggregate of the same (sensor, minute) by a sum, min, max or
    by keeping the reading with the smaller/larger timestamp, so merging is independent of arrival order.
    `energy_kwh` is the sum of the processor's per-reading energy (see EnrichedBatch.energy_kwh).
    """

    sensor_id: list[str]
    sensor_type: list[str]
    minute: F64
    readings: I64
    anomalies: I64
    value_sum: F64
    value_min: F64
    value_max: F64
    first_ts: F64
    first_value: F64
    last_ts: F64
    last_value: F64
    energy_kwh: F64
    fp_sum: F64
    fp_max: F64
    score_max: F64
    duplicates: int = 0

    def __len__(self) -> int:
        return len(self.sensor_id)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Rows in COLUMNS order with Python scalars (minute as epoch seconds)."""
        columns = [self.sensor_id, self.sensor_type] + [getattr(self, c).tolist() for c in COLUMNS[2:]]
        return zip(*columns, strict=True)

    @property
    def days(self) -> set[int]:
        """UTC days (epoch day numbers) the entries fall on."""
        return set((self.minute // 86400).astype(np.int64).tolist())


def rollup(batches: Sequence[EnrichedBatch], min_ts: float = 0.0) -> Rollups:
    """Aggregate readings per (sensor, minute); readings older than `min_ts` and exact repeats are dropped."""
    index: dict[str, int] = {}
    type_of: list[str] = []
    codes_parts: list[I64] = []
    for b in batches:
        codes = np.empty(len(b.sensor_ids), dtype=np.int64)
        for i, (sid, st) in enumerate(zip(b.sensor_ids, b.types, strict=True)):
            known = index.get(sid)
            if known is None:
                known = index[sid] = len(type_of)
                type_of.append(st.value)
            codes[i] = known
        codes_parts.append(codes)
    if not type_of:
        return _empty()
    code = np.concatenate(codes_parts)
    ts = np.concatenate([np.asarray(b.ts, dtype=np.float64) for b in batches])
    value = np.concatenate([np.asarray(b.values, dtype=np.float64) for b in batches])
    anomaly = np.concatenate([np.asarray(b.anomaly, dtype=np.int64) for b in batches])
    fp = np.concatenate([np.asarray(b.failure_probability, dtype=np.float64) for b in batches])
    score = np.concatenate([np.asarray(b.score, dtype=np.float64) for b in batches])
    energy = np.concatenate([np.asarray(b.energy_kwh, dtype=np.float64) for b in batches])
    keep = ts >= min_ts
    order = np.lexsort((ts, code))
    order = order[keep[order]]
    code, ts, value, anomaly, fp, score, energy = (
        code[order],
        ts[order],
        value[order],
        anomaly[order],
        fp[order],
        score[order],
        energy[order],
    )
    n = code.size
    if n == 0:
        return _empty()
    repeat = np.zeros(n, dtype=bool)
    repeat[1:] = (code[1:] == code[:-1]) & (ts[1:] == ts[:-1])
    duplicates = int(repeat.sum())
    if duplicates:
        unique = ~repeat
        code, ts, value, anomaly, fp, score, energy = (
            code[unique],
            ts[unique],
            value[unique],
            anomaly[unique],
            fp[unique],
            score[unique],
            energy[unique],
        )
        n = code.size
    minute = np.floor(ts / 60.0) * 60.0
    start = np.ones(n, dtype=bool)
    start[1:] = (code[1:] != code[:-1]) | (minute[1:] != minute[:-1])
    first = np.flatnonzero(start)
    last = np.r_[first[1:] - 1, n - 1]
    sensor_code = code[first].tolist()
    ids = list(index)
    return Rollups(
        sensor_id=[ids[c] for c in sensor_code],
        sensor_type=[type_of[c] for c in sensor_code],
        minute=minute[first],
        readings=np.diff(np.r_[first, n]).astype(np.int64),
        anomalies=np.add.reduceat(anomaly, first),
        value_sum=np.add.reduceat(value, first),
        value_min=np.minimum.reduceat(value, first),
        value_max=np.maximum.reduceat(value, first),
        first_ts=ts[first],
        first_value=value[first],
        last_ts=ts[last],
        last_value=value[last],
        energy_kwh=np.add.reduceat(energy, first),
        fp_sum=np.add.reduceat(fp, first),
        fp_max=np.maximum.reduceat(fp, first),
        score_max=np.maximum.reduceat(score, first),
        duplicates=duplicates,
    )


def _empty() -> Rollups:
    f = np.zeros(0)
    i = np.zeros(0, dtype=np.int64)
    return Rollups([], [], f, i, i, f, f, f, f, f, f, f, f, f, f, f)
