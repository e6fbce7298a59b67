"""Export reads: one-minute rollups and alerts fetched through a named server-side cursor, a chunk at a time."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Final

from psycopg import sql

from gridwatch.api.alert_queries import alert_filters
from gridwatch.api.db import Database

CHUNK_ROWS: Final = 5000  # rows per FETCH: a chunk of CSV is ~0.5 MB, the memory an export holds at once
_cursor_ids = itertools.count(1)

HISTORY_COLUMNS: Final = (
    "extract(epoch FROM minute), sensor_id, sensor_type, readings, value_sum / NULLIF(readings, 0),"
    " value_min, value_max, last_value, energy_kwh, anomalies"
)
# the export's ALERT fields, in the order of api.contract.AlertRecord
ALERT_EXPORT_COLUMNS: Final = (
    "a.id, a.fingerprint, a.rule, a.sensor_id, a.machine, a.severity, a.state, a.message, a.value, a.count,"
    " extract(epoch FROM a.first_seen), extract(epoch FROM a.last_seen), extract(epoch FROM a.acknowledged_at),"
    " a.acknowledged_by, extract(epoch FROM a.cleared_at)"
)


def history_query(sensor: str | None, sensor_type: str | None) -> sql.Composed:
    """Every one-minute rollup of the site in [start, end), by minute then sensor (the indexes' order)."""
    where = [sql.SQL("site = %(site)s AND minute >= to_timestamp(%(start)s) AND minute < to_timestamp(%(end)s)")]
    if sensor is not None:
        where.append(sql.SQL("sensor_id = %(sensor)s"))
    if sensor_type is not None:
        where.append(sql.SQL("sensor_type = %(type)s"))
    return sql.SQL("SELECT {cols} FROM gw_history_minute WHERE {where} ORDER BY minute, sensor_id").format(
        cols=sql.SQL(HISTORY_COLUMNS), where=sql.SQL(" AND ").join(where)
    )


def alerts_query(state: str | None, severity: str | None, sensor: str | None) -> sql.Composed:
    """The alerts the list endpoint would page through with the same filters, in its order."""
    return sql.SQL("SELECT {cols} FROM gw_alerts a WHERE {cond} ORDER BY a.last_seen DESC, a.id DESC").format(
        cols=sql.SQL(ALERT_EXPORT_COLUMNS), cond=alert_filters(state, severity, sensor)
    )


async def stream(
    db: Database, query: sql.Composed, params: dict[str, Any], chunk_rows: int = CHUNK_ROWS
) -> AsyncGenerator[Sequence[tuple[Any, ...]]]:
    """Batches of up to `chunk_rows` rows from a named cursor (DECLARE, then FETCH FORWARD n) in one read-only
    transaction, so PostgreSQL keeps the result and the API holds one batch at a time, however many rows match.

    The first batch may be empty. The connection goes back to the pool when the generator ends or is closed.
    """
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SET TRANSACTION READ ONLY")
        async with conn.cursor(name=f"gw_export_{next(_cursor_ids)}") as cur:
            await cur.execute(query, params)
            while True:
                rows = await cur.fetchmany(chunk_rows)
                yield rows
                if len(rows) < chunk_rows:
                    return
