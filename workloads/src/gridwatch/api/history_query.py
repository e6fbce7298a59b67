"""Read side of the rollups: downsampled series per sensor, per type or per site, and period summaries."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

METRICS: Final = ("mean", "min", "max", "last", "energy_kwh", "anomalies", "readings")
VALUE_METRICS: Final = frozenset({"mean", "min", "max", "last"})
MAX_POINTS: Final = 10_000
DEFAULT_POINTS: Final = 500

_AGGREGATES: Final[dict[str, str]] = {
    "mean": "sum(value_sum) / NULLIF(sum(readings), 0)",
    "min": "min(value_min)",
    "max": "max(value_max)",
    "energy_kwh": "sum(energy_kwh)",
    "anomalies": "sum(anomalies)",
    "readings": "sum(readings)",
}
_BUCKET: Final = "floor(extract(epoch FROM minute) / %(step)s) * %(step)s"
# calendar buckets (local days or hours, see gridwatch.common.sitetime): the index of the interval a minute falls in
_CALENDAR: Final = "width_bucket(extract(epoch FROM minute)::float8, %(bounds)s::float8[])"
QUARTER_S: Final = 900


def parse_time(text: str) -> float:
    """Epoch seconds from epoch seconds or an ISO 8601 time (naive times are UTC); ValueError otherwise."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        value = when.timestamp()
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"time {text!r} is not a non-negative finite epoch")
    return value


def default_step(start: float, end: float, points: int = DEFAULT_POINTS) -> int:
    """The smallest multiple of 60 s that gives at most `points` epoch-aligned buckets over [start, end)."""
    span = max(end - start, 0.0)
    return max(60, math.ceil(span / (points - 1) / 60.0) * 60)


def bucket_count(start: float, end: float, step: int) -> int:
    """Epoch-aligned buckets that [start, end) touches."""
    if end <= start:
        return 0
    return int(math.floor((end - 1e-9) / step) - math.floor(start / step)) + 1


def _per_type(metric: str, sensor: str | None) -> bool:
    """Whether per-type totals answer the query: aggregates over several sensors, except `last`."""
    return sensor is None and metric != "last"


def _filters(sensor: str | None, sensor_type: str | None) -> sql.Composable:
    parts = [sql.SQL("site = %(site)s AND minute >= to_timestamp(%(start)s) AND minute < to_timestamp(%(end)s)")]
    if sensor is not None:
        parts.append(sql.SQL("sensor_id = %(sensor)s"))
    if sensor_type is not None:
        parts.append(sql.SQL("sensor_type = %(type)s"))
    return sql.SQL(" AND ").join(parts)


async def series(
    conn: psycopg.AsyncConnection[TupleRow],
    site: str,
    metric: str,
    start: float,
    end: float,
    step: int,
    sensor: str | None = None,
    sensor_type: str | None = None,
    bounds: Sequence[float] | None = None,
) -> list[dict[str, float]]:
    """Points {ts, value} of `metric` per `step`-second bucket (aligned to the epoch) with data in [start, end).

    With `bounds` (ascending epochs, e.g. the site's local midnights) the buckets are [bounds[i], bounds[i+1])
    instead, each point stamped with its bucket's start, so a 23- or 25-hour DST day is one point.
    Over several sensors: mean is reading-weighted, min/max over every reading, last the average of each
    sensor's last value in the bucket, and energy_kwh, anomalies and readings are sums.
    """
    where = _filters(sensor, sensor_type)
    bucket = sql.SQL(_BUCKET if bounds is None else _CALENDAR)
    if metric == "last":
        query = sql.SQL(
            "SELECT bucket, avg(last_value) FROM ("
            " SELECT DISTINCT ON (bucket, sensor_id) {bucket} AS bucket, sensor_id, last_value"
            " FROM gw_history_minute WHERE {where} ORDER BY bucket, sensor_id, last_ts DESC"
            ") s GROUP BY bucket ORDER BY bucket"
        ).format(bucket=bucket, where=where)
    elif metric in _AGGREGATES:
        # several sensors: the per-type totals hold the same sums/min/max in a few rows per minute
        table = "gw_history_type_minute" if _per_type(metric, sensor) else "gw_history_minute"
        query = sql.SQL("SELECT {bucket} AS bucket, {agg} FROM {table} WHERE {where} GROUP BY 1 ORDER BY 1").format(
            bucket=bucket, agg=sql.SQL(_AGGREGATES[metric]), table=sql.Identifier(table), where=where
        )
    else:
        raise ValueError(f"unknown metric {metric!r}")
    params: dict[str, Any] = {
        "site": site,
        "start": start,
        "end": end,
        "step": step,
        "sensor": sensor,
        "type": sensor_type,
        "bounds": list(bounds or ()),
    }
    cur = await conn.execute(query, params)
    rows = await cur.fetchall()
    if bounds is None:
        return [{"ts": float(b), "value": float(v)} for b, v in rows if v is not None]
    last = len(bounds) - 1  # width_bucket: 0 before bounds[0], len(bounds) from bounds[-1] on
    return [{"ts": float(bounds[int(b) - 1]), "value": float(v)} for b, v in rows if v is not None and 1 <= b <= last]


async def site_energy_quarters(
    conn: psycopg.AsyncConnection[TupleRow], site: str, start: float, end: float
) -> list[tuple[float, float]]:
    """(quarter-hour start, kWh) of the whole site in [start, end), from the per-type totals (for pricing)."""
    cur = await conn.execute(
        """
        SELECT floor(extract(epoch FROM minute) / %(q)s) * %(q)s AS quarter, sum(energy_kwh)
        FROM gw_history_type_minute
        WHERE site = %(site)s AND minute >= to_timestamp(%(start)s) AND minute < to_timestamp(%(end)s)
        GROUP BY 1 ORDER BY 1
        """,
        {"q": QUARTER_S, "site": site, "start": start, "end": end},
    )
    return [(float(q), float(e)) for q, e in await cur.fetchall() if e is not None]


async def site_load_kw(
    conn: psycopg.AsyncConnection[TupleRow],
    site: str,
    start: float,
    end: float,
    step: float,
    machine: str | None = None,
) -> list[dict[str, float]]:
    """Mean kW per `step` bucket of the site (or one machine's power sensor), as the forecaster reads its history.

    The site's kW in a minute is its power sensors' mean times their number (gw_history_type_minute); a
    machine's is the mean of `<machine>-power`. Buckets are epoch-aligned, stamped with their start.
    """
    if machine is None:
        query = """
            SELECT floor(extract(epoch FROM minute) / %(step)s) * %(step)s, avg(value_sum / readings * sensors)
            FROM gw_history_type_minute
            WHERE site = %(site)s AND sensor_type = 'power' AND readings > 0
              AND minute >= to_timestamp(%(start)s) AND minute < to_timestamp(%(end)s)
            GROUP BY 1 ORDER BY 1
        """
    else:
        query = """
            SELECT floor(extract(epoch FROM minute) / %(step)s) * %(step)s, avg(value_sum / readings)
            FROM gw_history_minute
            WHERE site = %(site)s AND sensor_type = 'power' AND sensor_id = %(sensor)s AND readings > 0
              AND minute >= to_timestamp(%(start)s) AND minute < to_timestamp(%(end)s)
            GROUP BY 1 ORDER BY 1
        """
    params = {"step": step, "site": site, "start": start, "end": end, "sensor": f"{machine}-power"}
    cur = await conn.execute(query, params)
    return [{"ts": float(b), "kw": float(v)} for b, v in await cur.fetchall() if v is not None]


async def summary(conn: psycopg.AsyncConnection[TupleRow], site: str, start: float, end: float) -> dict[str, Any]:
    """Energy, anomalies, readings and sensors per sensor type over [start, end).

    `sensors` is the most sensors of the type that reported within one minute of the range (from the per-type
    totals: counting distinct sensors over a range would read every per-sensor row).
    """
    cur = await conn.execute(
        """
        SELECT sensor_type, sum(energy_kwh), sum(anomalies), sum(readings), max(sensors)
        FROM gw_history_type_minute
        WHERE site = %s AND minute >= to_timestamp(%s) AND minute < to_timestamp(%s)
        GROUP BY sensor_type ORDER BY sensor_type
        """,
        (site, start, end),
    )
    types: list[dict[str, Any]] = [
        {
            "type": str(t),
            "energy_kwh": round(float(e), 6),
            "anomalies": int(a),
            "readings": int(r),
            "sensors": int(n),
        }
        for t, e, a, r, n in await cur.fetchall()
    ]
    return {
        "from": start,
        "to": end,
        "types": types,
        "total_energy_kwh": round(sum(t["energy_kwh"] for t in types), 6),
        "total_anomalies": sum(t["anomalies"] for t in types),
        "total_readings": sum(t["readings"] for t in types),
    }


async def sensor_type_of(conn: psycopg.AsyncConnection[TupleRow], site: str, sensor: str) -> str | None:
    """The type a sensor's rollups were written with (its most recent minute), or None without history."""
    cur = await conn.execute(
        "SELECT sensor_type FROM gw_history_minute WHERE site = %s AND sensor_id = %s ORDER BY minute DESC LIMIT 1",
        (site, sensor),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])
