"""`gridwatch replay`: rebase recorded timestamps to now, pace them, and post gateway batches to the ingest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

from gridwatch.common.schema import SensorType
from gridwatch.replay.csvfile import CsvError, Target, load_sensor_map, rows

MAX_SPAN_S = 7 * 86400.0 - 3600.0  # the processor refuses readings older than 7 days


@dataclass
class Outcome:
    """What one replay sent."""

    readings: int = 0
    requests: int = 0
    rejected: int = 0
    retries: int = 0


def parse_speed(text: str) -> float:
    """`60x`, `60` or `0.5x` as a factor > 0."""
    try:
        speed = float(text.lower().removesuffix("x"))
    except ValueError as exc:
        raise CsvError(f"speed '{text}' is not a number like 60x") from exc
    if speed <= 0:
        raise CsvError("speed must be > 0")
    return speed


def replay(
    path: Path,
    url: str,
    token: str,
    *,
    speed: float = 1.0,
    as_fast_as_possible: bool = False,
    sensor_map: Path | None = None,
    default_type: SensorType = SensorType.POWER,
    batch_rows: int = 500,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Stream the file into the ingest: timestamps keep their spacing divided by `speed`; paced in real time
    unless `as_fast_as_possible`, then the last reading lands at now."""
    targets = load_sensor_map(sensor_map)
    records = list(rows(path))
    if not records:
        return Outcome()
    first, last = records[0][0], max(r[0] for r in records)
    span = (last - first) / speed
    if span > MAX_SPAN_S:
        raise CsvError(f"the file spans {span / 86400:.1f} days at {speed:g}x; raise --speed to fit within 7 days")
    start = time.time()
    anchor = start - span if as_fast_as_possible else start
    http = client or httpx.Client(timeout=60)
    out = Outcome()
    try:
        for chunk in _chunks(records, batch_rows):
            stamps = sorted({t for t, _, _ in chunk})
            rebased = [anchor + (t - first) / speed for t in stamps]
            if not as_fast_as_possible:
                wait = rebased[-1] - time.time()
                if wait > 0:
                    sleep(wait)
            body = _batch(chunk, stamps, rebased, targets, default_type)
            out.readings += sum(1 for _, _, v in chunk if v is not None)
            _post(http, url, token, body, out, sleep)
    finally:
        if client is None:
            http.close()
    return out


def _chunks(
    records: list[tuple[float, str, float | None]], size: int
) -> Iterable[list[tuple[float, str, float | None]]]:
    chunk: list[tuple[float, str, float | None]] = []
    stamps: set[float] = set()
    for record in records:
        if record[0] not in stamps and len(stamps) >= size:
            yield chunk
            chunk, stamps = [], set()
        stamps.add(record[0])
        chunk.append(record)
    if chunk:
        yield chunk


def _batch(
    chunk: list[tuple[float, str, float | None]],
    stamps: list[float],
    rebased: list[float],
    targets: dict[str, Target],
    default_type: SensorType,
) -> dict[str, Any]:
    column = {t: j for j, t in enumerate(stamps)}
    names = list(dict.fromkeys(name for _, name, _ in chunk))
    row = {n: i for i, n in enumerate(names)}
    values: list[list[float | None]] = [[None] * len(stamps) for _ in names]
    for ts, name, value in chunk:
        values[row[name]][column[ts]] = value
    sensors = []
    for name in names:
        target = targets.get(name, Target(name, default_type))
        sensors.append(
            {"id": target.id, "type": target.type.value, **({"machine": target.machine} if target.machine else {})}
        )
    return {"sensors": sensors, "ts": [round(t * 1000, 3) for t in rebased], "values": values}


def _post(
    http: httpx.Client, url: str, token: str, body: dict[str, Any], out: Outcome, sleep: Callable[[float], None]
) -> None:
    data = msgspec.msgpack.encode(body)
    # the header marks the readings as replayed, so the UI shows the sensors' source as replay rather than http
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/msgpack",
        "X-Gridwatch-Source": "replay",
    }
    for _ in range(120):
        response = http.post(f"{url.rstrip('/')}/api/v1/ingest/telemetry", content=data, headers=headers)
        if response.status_code == 202:
            out.requests += 1
            out.rejected += int(response.json()["rejected"])
            return
        if response.status_code in (429, 503):
            out.retries += 1
            sleep(float(response.headers.get("Retry-After", "1")))
            continue
        raise CsvError(f"the ingest answered {response.status_code}: {response.text[:500]}")
    raise CsvError("the ingest kept answering 429 for two minutes")
