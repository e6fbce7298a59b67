"""Recorded CSV in two layouts: long (`timestamp,sensor,value`) or wide (`timestamp` + one column per sensor)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gridwatch.common.schema import SensorType

LONG_SENSOR = ("sensor", "sensor_id")


class CsvError(ValueError):
    """The file cannot be replayed; the text names the line."""


@dataclass(frozen=True)
class Target:
    """Where one CSV column or sensor name goes: the Gridwatch sensor id, type and machine."""

    id: str
    type: SensorType
    machine: str = ""


def parse_time(text: str, line: int) -> float:
    """ISO 8601 (naive = UTC) or epoch seconds / milliseconds, as Unix seconds."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise CsvError(f"line {line}: timestamp '{text}' is neither ISO 8601 nor epoch seconds") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return number / 1000.0 if number > 1e11 else number


def load_sensor_map(path: Path | None) -> dict[str, Target]:
    """`{"<column or sensor>": {"id": ..., "type": ..., "machine": ...}}` from a JSON file."""
    if path is None:
        return {}
    raw = json.loads(path.read_text())
    try:
        return {k: Target(v.get("id", k), SensorType(v["type"]), v.get("machine", "")) for k, v in raw.items()}
    except (KeyError, ValueError, AttributeError) as exc:
        raise CsvError(f"{path}: each entry needs a 'type' from {[t.value for t in SensorType]}: {exc}") from exc


def rows(path: Path) -> Iterator[tuple[float, str, float | None]]:
    """(ts, column or sensor name, value) in file order; wide files yield one per cell; empty cells are None.

    A wide file whose only value column is `value` (the NAB layout) names its sensor after the file.
    """
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[0].strip().lower() not in ("timestamp", "ts", "time"):
            raise CsvError("line 1: the first column must be 'timestamp'")
        names = [h.strip() for h in header]
        long = len(names) == 3 and names[1].lower() in LONG_SENSOR and names[2].lower() == "value"
        if names[1:] == ["value"]:
            names[1] = path.stem
        for line, record in enumerate(reader, 2):
            if not record:
                continue
            if len(record) != len(names):
                raise CsvError(f"line {line}: {len(record)} fields, the header has {len(names)}")
            ts = parse_time(record[0], line)
            cells = [(record[1], record[2])] if long else list(zip(names[1:], record[1:], strict=True))
            for name, cell in cells:
                if not cell.strip():
                    yield ts, name, None
                    continue
                try:
                    yield ts, name, float(cell)
                except ValueError as exc:
                    raise CsvError(f"line {line}: value '{cell}' of '{name}' is not a number") from exc
