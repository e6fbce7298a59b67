"""Read a `timestamp,value` CSV (NAB-style and the like) into a regular one-series panel, or say which line is bad."""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gridwatch.common.forecast.panel import DAY_S, Panel

_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h|hour|d|day)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0, "d": DAY_S, "day": DAY_S}


class CsvError(ValueError):
    """A CSV that cannot be read as a time series; the text names the file and line."""


def parse_step(text: str) -> float:
    """'30min', '15m', '1h', '900s' or '900' (seconds) to seconds; the step must divide a day."""
    match = _STEP.match(text)
    if not match:
        raise ValueError(f"cannot read the step {text!r}: use e.g. 15min, 30min, 1h or 900s")
    seconds = float(match.group(1)) * _UNIT_S[(match.group(2) or "s").lower()]
    if seconds <= 0 or DAY_S % seconds:
        raise ValueError(f"the step {text!r} must divide a day")
    return seconds


def parse_timestamp(text: str) -> float:
    """ISO 8601 (naive = UTC) or epoch seconds (milliseconds when larger than 1e11)."""
    s = text.strip()
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"timestamp {text!r} is not finite")
        return value / 1000.0 if value > 1e11 else value
    try:
        parsed = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"cannot read the timestamp {text!r} (ISO 8601 or epoch seconds)") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def read_series(
    path: Path, timestamp_col: str = "timestamp", value_col: str = "value", step_s: float | None = None
) -> Panel:
    """The CSV's values on a regular grid at `step_s` (the median spacing when None), averaging within a step.

    Steps with no row are NaN (the models fill them); a row whose timestamp or value cannot be read is an error.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvError(f"{path}: {exc.strerror or exc}") from exc
    stamps: list[float] = []
    values: list[float] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise CsvError(f"{path}: the file is empty") from None
        except csv.Error as exc:
            raise CsvError(f"{path}, line 1: {exc}") from None
        names = [h.strip() for h in header]
        for col in (timestamp_col, value_col):
            if col not in names:
                raise CsvError(f"{path}, line 1: no column {col!r} in the header {names}")
        ti, vi = names.index(timestamp_col), names.index(value_col)
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(names):
                    raise CsvError(f"{path}, line {line}: {len(row)} fields, the header has {len(names)}")
                try:
                    ts = parse_timestamp(row[ti])
                except ValueError as exc:
                    raise CsvError(f"{path}, line {line}: {exc}") from None
                cell = row[vi].strip()
                try:
                    value = float(cell) if cell else math.nan
                except ValueError:
                    raise CsvError(f"{path}, line {line}: value {cell!r} is not a number") from None
                if math.isinf(value):
                    raise CsvError(f"{path}, line {line}: value {cell!r} is not finite")
                stamps.append(ts)
                values.append(value)
        except csv.Error as exc:
            raise CsvError(f"{path}, line {reader.line_num}: {exc}") from None
    if len(stamps) < 2:
        raise CsvError(f"{path}: {len(stamps)} data rows; a backtest needs many more")
    ts_arr = np.asarray(stamps)
    v_arr = np.asarray(values)
    order = np.argsort(ts_arr, kind="stable")
    ts_arr, v_arr = ts_arr[order], v_arr[order]
    if step_s is None:
        gaps = np.diff(ts_arr)
        gaps = gaps[gaps > 0]
        if not gaps.size:
            raise CsvError(f"{path}: every row has the same timestamp")
        step_s = _snap_step(float(np.median(gaps)))
    start = math.floor(ts_arr[0] / step_s) * step_s
    index = np.floor((ts_arr - start) / step_s).astype(np.int64)
    length = int(index[-1]) + 1
    sums = np.zeros(length)
    counts = np.zeros(length)
    ok = ~np.isnan(v_arr)
    np.add.at(sums, index[ok], v_arr[ok])
    np.add.at(counts, index[ok], 1.0)
    grid = np.divide(sums, counts, out=np.full(length, np.nan), where=counts > 0)
    return Panel.single(grid, start, step_s, path.stem)


def _snap_step(seconds: float) -> float:
    """The divisor of a day nearest to a measured spacing."""
    divisors = [d for d in range(1, int(DAY_S) + 1) if DAY_S % d == 0]
    return float(min(divisors, key=lambda d: abs(d - seconds)))
