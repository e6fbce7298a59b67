"""Offline detection: stream a CSV through the processor's Scorer, one reading at a time, in time order."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from gridwatch.common.schema import TYPE_CODE
from gridwatch.common.scoring import KINDS, Scorer, ScoringConfig
from gridwatch.processor.settings import ProcessorSettings

OUTPUT_COLUMNS = ("timestamp", "value", "anomaly_score", "anomaly", "failure_probability", "kind")


class CsvError(ValueError):
    """A CSV that cannot be read, with the line that is wrong."""


@dataclass(frozen=True)
class Reading:
    """One input row: where it came from, its original timestamp text, epoch seconds and value."""

    line: int
    stamp: str
    ts: float
    value: float


@dataclass(frozen=True)
class Detection:
    """What the processor's scorer made of one reading."""

    reading: Reading
    score: float
    anomaly: bool
    probability: float
    kind: str


def parse_timestamp(text: str) -> float:
    """Epoch seconds of an ISO-8601 timestamp (naive means UTC, any year) or of a number of epoch seconds."""
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        pass
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def read_csv(fh: TextIO, timestamp_col: str = "timestamp", value_col: str = "value") -> Iterator[Reading]:
    """Rows of a CSV with a header; a clear CsvError naming the line for anything that cannot be used."""
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError("line 1: the file is empty, expected a header row") from None
    except csv.Error as exc:
        raise CsvError(f"line 1: {exc}") from None
    names = [h.strip() for h in header]
    for col in (timestamp_col, value_col):
        if col not in names:
            raise CsvError(f"line 1: no column '{col}' in the header ({', '.join(names)})")
    ti, vi = names.index(timestamp_col), names.index(value_col)
    previous = -math.inf
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvError(f"line {reader.line_num}: {exc}") from None
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) <= max(ti, vi):
            raise CsvError(f"line {line}: {len(row)} fields, expected at least {max(ti, vi) + 1}")
        try:
            ts = parse_timestamp(row[ti])
        except (ValueError, OverflowError):
            raise CsvError(f"line {line}: cannot parse timestamp '{row[ti]}'") from None
        try:
            value = float(row[vi])
        except ValueError:
            raise CsvError(f"line {line}: cannot parse value '{row[vi]}' as a number") from None
        if not math.isfinite(value) or not math.isfinite(ts):
            raise CsvError(f"line {line}: value and timestamp must be finite")
        if ts <= previous:
            raise CsvError(
                f"line {line}: timestamp '{row[ti]}' is not after the previous row's (rows must be in time order)"
            )
        previous = ts
        yield Reading(line, row[ti], ts, value)


def default_config() -> ScoringConfig:
    """The processor's scoring configuration at its default settings (GRIDWATCH_PROC_* apply too); no registry
    here, so the forest takes part only when GRIDWATCH_PROC_FOREST=true fits one."""
    return ProcessorSettings().scoring_config(registry=False)


def detect(
    readings: Iterator[Reading], sensor_type: str = "power", config: ScoringConfig | None = None
) -> Iterator[Detection]:
    """Score readings one at a time with the processor's Scorer: each output depends only on earlier rows."""
    scorer = Scorer(config or default_config())
    idx, _ = scorer.table.lookup(["csv"], ["csv"], [TYPE_CODE[sensor_type]])
    ts = np.zeros(1)
    value = np.zeros(1)
    for r in readings:
        ts[0], value[0] = r.ts, r.value
        res = scorer.score(idx, ts, value)
        yield Detection(
            r, float(res.score[0]), bool(res.anomaly[0]), float(res.probability[0]), KINDS[int(res.kind[0])]
        )


def write_detections(detections: Iterator[Detection], out: TextIO) -> int:
    """Write `timestamp,value,anomaly_score,anomaly,failure_probability,kind`; returns the row count."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(OUTPUT_COLUMNS)
    n = 0
    for d in detections:
        w.writerow(
            (d.reading.stamp, repr(d.reading.value), f"{d.score:.6f}", int(d.anomaly), f"{d.probability:.6f}", d.kind)
        )
        n += 1
    return n


def detect_file(src: Path, dst: Path, timestamp_col: str, value_col: str, sensor_type: str) -> int:
    """Stream `src` through the detector into `dst`; returns the number of rows written."""
    if sensor_type not in TYPE_CODE:
        raise CsvError(f"unknown sensor type '{sensor_type}' (one of {', '.join(TYPE_CODE)})")
    with src.open(newline="") as fh, dst.open("w", newline="") as out:
        return write_detections(detect(read_csv(fh, timestamp_col, value_col), sensor_type), out)
