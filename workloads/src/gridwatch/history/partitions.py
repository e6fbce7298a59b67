"""Storage layout of the rollup table: daily partitions ahead of time, and retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

TABLE = "gw_history_minute"
PARTITION_LOCK = 0x67776870
_DAY = 86400


def storage_kind(conn: psycopg.Connection[TupleRow]) -> str:
    """'timescaledb' for a hypertable, 'partitioned' for declarative partitions, '' when missing."""
    row = conn.execute("SELECT relkind FROM pg_class WHERE relname = %s AND relkind IN ('r', 'p')", (TABLE,)).fetchone()
    if row is None:
        return ""
    return "partitioned" if row[0] == "p" else "timescaledb"


def partition_name(day: int) -> str:
    """Name of the partition holding UTC day `day` (days since the epoch)."""
    return f"{TABLE}_p{_date(day):%Y%m%d}"


def existing_days(conn: psycopg.Connection[TupleRow]) -> set[int]:
    """Days that have a partition."""
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = %s
        """,
        (TABLE,),
    ).fetchall()
    days: set[int] = set()
    for (name,) in rows:
        suffix = str(name).rsplit("_p", 1)[-1]
        try:
            day = dt.datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        days.add(int(day.timestamp()) // _DAY)
    return days


def ensure_days(conn: psycopg.Connection[TupleRow], days: Iterable[int]) -> list[str]:
    """Create the missing daily partitions in their own transaction; returns the names created."""
    wanted = sorted(set(days))
    created: list[str] = []
    if not wanted:
        return created
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        have = existing_days(conn)
        for day in wanted:
            if day in have:
                continue
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(partition_name(day)),
                    sql.Identifier(TABLE),
                    sql.Literal(_date(day).isoformat() + " 00:00:00+00"),
                    sql.Literal(_date(day + 1).isoformat() + " 00:00:00+00"),
                )
            )
            created.append(partition_name(day))
    return created


def drop_before(conn: psycopg.Connection[TupleRow], kind: str, cutoff: float) -> list[str]:
    """Drop rollups older than `cutoff` (epoch): whole partitions or TimescaleDB chunks, and the per-type totals
    of the same whole days."""
    dropped: list[str] = []
    with conn.transaction():
        conn.execute("DELETE FROM gw_history_type_minute WHERE minute < to_timestamp(%s)", (day_of(cutoff) * _DAY,))
        if kind == "timescaledb":
            rows = conn.execute("SELECT drop_chunks(%s, older_than => to_timestamp(%s))", (TABLE, cutoff)).fetchall()
            dropped = [str(r[0]) for r in rows]
        elif kind == "partitioned":
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for day in sorted(existing_days(conn)):
                if (day + 1) * _DAY <= cutoff:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(partition_name(day))))
                    dropped.append(partition_name(day))
    return dropped


def day_of(ts: float) -> int:
    """UTC day number of an epoch timestamp."""
    return int(ts // _DAY)


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)
