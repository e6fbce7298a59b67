"""Alert reads and manual transitions for the API (async): list, get, acknowledge, clear."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from gridwatch.common.alert_rows import ALERT_COLUMNS, alert_json, transition_error


class TransitionRefused(Exception):
    """A manual transition that the alert's state does not allow (HTTP 409)."""


def alert_filters(state: str | None, severity: str | None, sensor: str | None) -> sql.Composed:
    """The WHERE condition of an alert list (and its export), with %(site)s, %(state)s, ... placeholders."""
    where = [sql.SQL("a.site = %(site)s")]
    if state is not None:
        where.append(sql.SQL("a.state = %(state)s"))
    if severity is not None:
        where.append(sql.SQL("a.severity = %(severity)s"))
    if sensor is not None:
        where.append(sql.SQL("a.sensor_id = %(sensor)s"))
    return sql.SQL(" AND ").join(where)


async def list_alerts(
    conn: psycopg.AsyncConnection[TupleRow],
    site: str,
    state: str | None,
    severity: str | None,
    sensor: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Alerts matching the filters, most recently seen first, with the total before paging."""
    cond = alert_filters(state, severity, sensor)
    params = {"site": site, "state": state, "severity": severity, "sensor": sensor, "limit": limit, "offset": offset}
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM gw_alerts a WHERE {}").format(cond), params)
    total_row = await cur.fetchone()
    cur = await conn.execute(
        sql.SQL(
            "SELECT {cols} FROM gw_alerts a WHERE {cond} ORDER BY a.last_seen DESC, a.id DESC"
            " LIMIT %(limit)s OFFSET %(offset)s"
        ).format(cols=sql.SQL(ALERT_COLUMNS), cond=cond),
        params,
    )
    items = [alert_json(tuple(r)) for r in await cur.fetchall()]
    return {"total": int(total_row[0]) if total_row else 0, "items": items}


async def get_alert(conn: psycopg.AsyncConnection[TupleRow], site: str, alert_id: int) -> dict[str, Any] | None:
    """One alert, or None."""
    cur = await conn.execute(
        sql.SQL("SELECT {} FROM gw_alerts a WHERE a.site = %s AND a.id = %s").format(sql.SQL(ALERT_COLUMNS)),
        (site, alert_id),
    )
    row = await cur.fetchone()
    return None if row is None else alert_json(tuple(row))


async def events(conn: psycopg.AsyncConnection[TupleRow], site: str, alert_id: int) -> list[dict[str, Any]]:
    """The lifecycle history of one alert, oldest first."""
    cur = await conn.execute(
        """
        SELECT id, event, extract(epoch FROM at), actor, severity, state, message, value, count
        FROM gw_alert_events WHERE site = %s AND alert_id = %s ORDER BY id
        """,
        (site, alert_id),
    )
    return [
        {
            "id": int(r[0]),
            "event": r[1],
            "at": float(r[2]),
            "actor": r[3],
            "severity": r[4],
            "state": r[5],
            "message": r[6],
            "value": None if r[7] is None else float(r[7]),
            "count": int(r[8]),
        }
        for r in await cur.fetchall()
    ]


async def transition(
    conn: psycopg.AsyncConnection[TupleRow], site: str, alert_id: int, action: str, actor: str
) -> dict[str, Any] | None:
    """Acknowledge or clear an alert and record the event; None when it does not exist.

    Raises TransitionRefused when the alert's state does not allow the action.
    """
    async with conn.transaction():
        cur = await conn.execute("SELECT state FROM gw_alerts WHERE site = %s AND id = %s FOR UPDATE", (site, alert_id))
        row = await cur.fetchone()
        if row is None:
            return None
        problem = transition_error(action, str(row[0]))
        if problem is not None:
            raise TransitionRefused(problem)
        if action == "ack":
            await conn.execute(
                """
                UPDATE gw_alerts SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = %s
                WHERE id = %s
                """,
                (actor, alert_id),
            )
            event = "acknowledged"
        else:
            await conn.execute(
                "UPDATE gw_alerts SET state = 'cleared', cleared_at = now(), cleared_by = %s WHERE id = %s",
                (actor, alert_id),
            )
            event = "cleared"
        await conn.execute(
            """
            INSERT INTO gw_alert_events (alert_id, site, event, actor, severity, state, message, value, count)
            SELECT id, site, %s, %s, severity, state, message, value, count FROM gw_alerts WHERE id = %s
            """,
            (event, actor, alert_id),
        )
    return await get_alert(conn, site, alert_id)
