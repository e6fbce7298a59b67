"""Device payloads (ThingsBoard-style telemetry and the gateway batch) parsed into reading columns.

Problems with the request itself (not JSON, wrong shape, unknown sensor type) reject the whole request with the
location of each problem; implausible values and timestamps reject only their reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from gridwatch.common.schema import UNITS, SensorType
from gridwatch.ingest import limits

MAX_ERRORS: Final = 50
SENSOR_ID: Final = re.compile(r"^[\w.:/@-]{1,128}$")
TYPE_NAMES: Final = {t.value: t for t in SensorType}
TYPE_SUFFIX: Final = re.compile(r"(?:^|[-_.])(" + "|".join(TYPE_NAMES) + r")$")
JSON_TYPES: Final = ("application/json", "text/json")
MSGPACK_TYPES: Final = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
_json = msgspec.json.Decoder()
_msgpack = msgspec.msgpack.Decoder()


@dataclass(frozen=True)
class SensorMeta:
    """What a gateway declared about one sensor."""

    sensor_id: str
    type: SensorType
    machine: str
    unit: str


Lookup = Callable[[str], SensorMeta | None]


@dataclass
class Problem:
    """One thing wrong with a payload: where (`$[2].values.temp`) and why."""

    loc: str
    reason: str
    sensor: str | None = None
    ts: float | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for responses and DLQ records."""
        out: dict[str, Any] = {"loc": self.loc, "reason": self.reason}
        if self.sensor is not None:
            out["sensor"] = self.sensor
        if self.ts is not None:
            out["ts"] = self.ts
        if self.value is not None:
            out["value"] = self.value if isinstance(self.value, (int, float, str, bool)) else repr(self.value)
        return out


class PayloadError(ValueError):
    """The request cannot be accepted at all; `problems` name each bad field and index."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.loc}: {p.reason}" for p in problems[:5]))
        self.problems = problems[:MAX_ERRORS]


@dataclass
class Parsed:
    """Accepted readings as columns, the sensors the payload declared, and the readings refused one by one."""

    sensor_ids: list[str] = field(default_factory=list)
    machines: list[str] = field(default_factory=list)
    types: list[SensorType] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    declared: list[SensorMeta] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    rejected_total: int = 0

    @property
    def size(self) -> int:
        """Accepted readings."""
        return len(self.ts)

    def reject(self, problem: Problem) -> None:
        """Refuse one reading (kept for the DLQ, bounded for the response)."""
        self.rejected_total += 1
        self.rejected.append(problem)


class SensorDeclaration(msgspec.Struct, forbid_unknown_fields=True):
    """A sensor of a gateway batch: its id, and (once, or whenever it changes) its type, unit and machine."""

    id: str
    type: str | None = None
    unit: str | None = None
    machine: str | None = None


class GatewayBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Many sensors x many timestamps: `values[i][j]` is sensor i at `ts[j]` (ms since the epoch; null = missing)."""

    sensors: list[SensorDeclaration]
    ts: list[float]
    values: list[list[float | None]]


class Telemetry(msgspec.Struct, forbid_unknown_fields=True):
    """ThingsBoard-style telemetry of the token's gateway: each key is a sensor `<gateway>.<key>`.

    Sent alone, as a list, or as the bare `values` object (then ts = arrival time).
    """

    values: dict[str, float]
    ts: int | None = None


def decode_body(body: bytes, content_type: str) -> Any:
    """JSON or msgpack bytes to plain objects; PayloadError when they do not decode."""
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        if kind in MSGPACK_TYPES:
            return _msgpack.decode(body)
        if kind in JSON_TYPES or not kind:
            return _json.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise PayloadError(
            [Problem("$", f"body is not valid {'msgpack' if kind in MSGPACK_TYPES else 'JSON'}: {exc}")]
        ) from exc
    raise PayloadError(
        [Problem("$", f"unsupported content type '{kind}': use application/json or application/msgpack")]
    )


def parse(obj: Any, gateway: str, lookup: Lookup, now: float) -> Parsed:
    """Dispatch on shape: an object with `sensors` is a gateway batch, anything else ThingsBoard telemetry."""
    if isinstance(obj, dict) and "sensors" in obj:
        return parse_batch(obj, gateway, lookup, now)
    return parse_telemetry(obj, gateway, lookup, now)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def resolve_type(sensor_id: str, key: str, lookup: Lookup) -> SensorMeta | None:
    """A sensor's metadata: declared before, else inferred from a key named after its type (`oil_temperature`)."""
    meta = lookup(sensor_id)
    if meta is not None:
        return meta
    match = TYPE_SUFFIX.search(key.lower())
    if match is None:
        return None
    sensor_type = TYPE_NAMES[match.group(1)]
    return SensorMeta(sensor_id, sensor_type, "", UNITS[sensor_type])


def _unknown_type(sensor_id: str) -> str:
    return (
        f"sensor '{sensor_id}' has no known type: declare it (type one of {', '.join(TYPE_NAMES)}) "
        "or name its key after its type, e.g. 'oil_temperature'"
    )


def parse_telemetry(obj: Any, gateway: str, lookup: Lookup, now: float) -> Parsed:
    """`{"ts": ms, "values": {key: number}}`, a list of them, or bare `{key: number}` (ts = now).

    The device is the gateway of the token; each key is one sensor, named `<gateway>.<key>`, on machine `<gateway>`.
    """
    items = obj if isinstance(obj, list) else [obj]
    single = not isinstance(obj, list)
    problems: list[Problem] = []
    out = Parsed()
    metas: dict[str, SensorMeta] = {}
    for i, item in enumerate(items):
        at = "$" if single else f"$[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(at, 'expected an object {"ts": <ms>, "values": {...}}'))
            continue
        if "values" in item:
            extra = set(item) - {"ts", "values"}
            if extra:
                problems.append(Problem(f"{at}.{sorted(extra)[0]}", "unknown field; expected only ts and values"))
                continue
            values, ts_ms = item["values"], item.get("ts")
            vat = f"{at}.values"
        else:
            values, ts_ms, vat = item, None, at
        if ts_ms is None:
            ts = now
        elif _number(ts_ms) and math.isfinite(ts_ms) and ts_ms > 0:
            ts = ts_ms / 1000.0
        else:
            problems.append(Problem(f"{at}.ts", "expected a positive number of milliseconds since the epoch"))
            continue
        if not isinstance(values, dict) or not values:
            problems.append(Problem(vat, "expected a non-empty object of sensor key -> number"))
            continue
        for key, value in values.items():
            kat = f"{vat}.{key}"
            sensor_id = f"{gateway}.{key}"
            if not isinstance(key, str) or not SENSOR_ID.match(sensor_id):
                problems.append(Problem(kat, "sensor key must be 1-128 letters, digits or _ . : / @ -"))
                continue
            if not _number(value):
                problems.append(Problem(kat, f"expected a number, got {type(value).__name__}"))
                continue
            meta = metas.get(sensor_id)
            if meta is None:
                meta = resolve_type(sensor_id, key, lookup)
                if meta is None:
                    problems.append(Problem(kat, _unknown_type(sensor_id)))
                    continue
                metas[sensor_id] = meta
            _accept(out, meta, gateway, ts, float(value), kat, now)
    if problems:
        raise PayloadError(problems)
    out.declared = [m for m in metas.values() if lookup(m.sensor_id) is None]
    return out


def _accept(out: Parsed, meta: SensorMeta, machine: str, ts: float, value: float, loc: str, now: float) -> None:
    reason = limits.value_problem(meta.type, value) or limits.ts_problem(ts, now)
    if reason is not None:
        out.reject(Problem(loc, reason, meta.sensor_id, ts, value))
        return
    out.sensor_ids.append(meta.sensor_id)
    out.machines.append(meta.machine or machine)
    out.types.append(meta.type)
    out.ts.append(ts)
    out.values.append(value)


def _loc(exc: msgspec.ValidationError) -> tuple[str, str]:
    text = str(exc)
    if " - at `" in text:
        reason, _, where = text.rpartition(" - at `")
        return where.rstrip("`"), reason
    return "$", text


def parse_batch(obj: Any, gateway: str, lookup: Lookup, now: float) -> Parsed:
    """`{"sensors": [{id, type, unit, machine}], "ts": [ms...], "values": [[one row per sensor, one per ts]]}`.

    `null` marks a missing value. A sensor's type may be left out once it was declared before.
    """
    try:
        batch = msgspec.convert(obj, GatewayBatch)
    except msgspec.ValidationError as exc:
        loc, reason = _loc(exc)
        raise PayloadError([Problem(loc, reason)]) from exc
    problems: list[Problem] = []
    metas: list[SensorMeta] = []
    declared: list[SensorMeta] = []
    for i, decl in enumerate(batch.sensors):
        at = f"$.sensors[{i}]"
        if not SENSOR_ID.match(decl.id):
            problems.append(Problem(f"{at}.id", "sensor id must be 1-128 letters, digits or _ . : / @ -"))
            continue
        known = lookup(decl.id)
        if decl.type is None:
            if known is None:
                problems.append(Problem(f"{at}.type", _unknown_type(decl.id)))
                continue
            metas.append(known)
            continue
        sensor_type = TYPE_NAMES.get(decl.type.lower())
        if sensor_type is None:
            problems.append(
                Problem(f"{at}.type", f"unknown sensor type '{decl.type}': expected one of {', '.join(TYPE_NAMES)}")
            )
            continue
        unit = UNITS[sensor_type]
        if decl.unit is not None and decl.unit != unit:
            problems.append(Problem(f"{at}.unit", f"unit '{decl.unit}' is not {sensor_type.value}'s unit '{unit}'"))
            continue
        meta = SensorMeta(decl.id, sensor_type, decl.machine or (known.machine if known else ""), unit)
        metas.append(meta)
        if known != meta:
            declared.append(meta)
    if len(batch.values) != len(batch.sensors):
        problems.append(
            Problem("$.values", f"expected one row per sensor ({len(batch.sensors)}), got {len(batch.values)}")
        )
    n = len(batch.ts)
    for i, t in enumerate(batch.ts):
        if not (math.isfinite(t) and t > 0):
            problems.append(Problem(f"$.ts[{i}]", "expected a positive number of milliseconds since the epoch"))
    for i, row in enumerate(batch.values):
        if len(row) != n:
            problems.append(Problem(f"$.values[{i}]", f"expected {n} values (one per ts), got {len(row)}"))
    if problems:
        raise PayloadError(problems)
    out = Parsed(declared=declared)
    ts_s = [t / 1000.0 for t in batch.ts]
    ts_bad = [limits.ts_problem(t, now) for t in ts_s]
    any_ts_bad = any(r is not None for r in ts_bad)
    for i, (meta, row) in enumerate(zip(metas, batch.values, strict=True)):
        low, high = limits.PLAUSIBLE[meta.type]
        present = [v for v in row if v is not None]
        machine = meta.machine or gateway
        if (
            not any_ts_bad
            and len(present) == n
            and (not present or (math.isfinite(sum(present)) and low <= min(present) and max(present) <= high))
        ):
            # fast path: a full, plausible row
            out.sensor_ids.extend([meta.sensor_id] * n)
            out.machines.extend([machine] * n)
            out.types.extend([meta.type] * n)
            out.ts.extend(ts_s)
            out.values.extend(present)
            continue
        for j, value in enumerate(row):
            if value is not None:
                _accept(out, meta, machine, ts_s[j], value, f"$.values[{i}][{j}]", now)
    return out
