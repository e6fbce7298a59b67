"""Load history from PostgreSQL's one-minute rollups as regular panels: the site's kW and each machine's."""

from __future__ import annotations

import math

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.forecast.panel import Panel

SITE_SQL = """
SELECT floor(extract(epoch FROM minute) / %(step)s)::bigint AS bucket,
       avg(value_sum / readings * sensors) AS kw
FROM gw_history_type_minute
WHERE site = %(site)s AND sensor_type = 'power' AND readings > 0 AND minute >= to_timestamp(%(since)s)
  AND minute < to_timestamp(%(until)s)
GROUP BY bucket ORDER BY bucket
"""
MACHINE_SQL = """
SELECT sensor_id, floor(extract(epoch FROM minute) / %(step)s)::bigint AS bucket, avg(value_sum / readings) AS kw
FROM gw_history_minute
WHERE site = %(site)s AND sensor_type = 'power' AND readings > 0 AND minute >= to_timestamp(%(since)s)
  AND minute < to_timestamp(%(until)s)
GROUP BY sensor_id, bucket
"""


def machine_of(sensor_id: str) -> str:
    """The machine a power sensor measures: its id without the `-power` suffix."""
    return sensor_id.removesuffix("-power")


def window(now: float, step_s: float, days: int) -> tuple[int, int]:
    """First bucket and the bucket after the last complete one: the step in progress is left out."""
    end = math.floor(now / step_s)
    return end - int(days * 86_400 // step_s), end


def site_panel(conn: psycopg.Connection[TupleRow], site: str, step_s: float, days: int, now: float) -> Panel:
    """The site's power (kW, sum over power sensors of their mean) per step; steps without rows are NaN."""
    lo, hi = window(now, step_s, days)
    rows = conn.execute(SITE_SQL, {"step": step_s, "site": site, "since": lo * step_s, "until": hi * step_s}).fetchall()
    values = np.full(hi - lo, np.nan)
    for bucket, kw in rows:
        values[int(bucket) - lo] = float(kw)
    return _trim(Panel(values.reshape(1, -1), lo * step_s, step_s, ("site",)))


def machine_panel(
    conn: psycopg.Connection[TupleRow], site: str, step_s: float, days: int, now: float, limit: int
) -> Panel:
    """Each machine's power (kW) per step, machines sorted by id, at most `limit` of them."""
    lo, hi = window(now, step_s, days)
    rows = conn.execute(
        MACHINE_SQL, {"step": step_s, "site": site, "since": lo * step_s, "until": hi * step_s}
    ).fetchall()
    ids = sorted({machine_of(str(r[0])) for r in rows})[:limit]
    index = {m: k for k, m in enumerate(ids)}
    values = np.full((len(ids), hi - lo), np.nan)
    for sensor_id, bucket, kw in rows:
        k = index.get(machine_of(str(sensor_id)))
        if k is not None:
            values[k, int(bucket) - lo] = float(kw)
    return _trim(Panel(values, lo * step_s, step_s, tuple(ids)))


def _trim(panel: Panel) -> Panel:
    """Drop the leading steps before any series has data (a young site has a short history, not a long gap)."""
    seen = ~np.isnan(panel.values).all(axis=0)
    if not seen.any():
        return Panel(panel.values[:, :0], panel.start + panel.length * panel.step_s, panel.step_s, panel.ids)
    first = int(np.argmax(seen))
    return Panel(panel.values[:, first:], panel.start + first * panel.step_s, panel.step_s, panel.ids)
