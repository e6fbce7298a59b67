"""Storage layout of the rollup table: daily partitions ahead of time, and retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import psycopg
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
    """Create the missing daily partitions in their own transaction; returns the names created.

    Through gw_history_ensure_days (migration 050), which runs as the schema's owner: the history writer's role may
    write rollups but not create tables.
    """
    wanted = sorted(set(days))
    if not wanted:
        return []
    with conn.transaction():
        row = conn.execute("SELECT gw_history_ensure_days(%s::date[])", ([_date(d) for d in wanted],)).fetchone()
    return [str(name) for name in (row[0] if row else [])]


def drop_before(conn: psycopg.Connection[TupleRow], kind: str, cutoff: float) -> list[str]:
    """Drop rollups older than `cutoff` (epoch): whole partitions or TimescaleDB chunks, and the per-type totals
    of the same whole days; through gw_history_drop_before (migration 050, runs as the owner)."""
    if not kind:
        return []
    with conn.transaction():
        row = conn.execute("SELECT gw_history_drop_before(to_timestamp(%s))", (cutoff,)).fetchone()
    return [str(name) for name in (row[0] if row else [])]


def day_of(ts: float) -> int:
    """UTC day number of an epoch timestamp."""
    return int(ts // _DAY)


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)
