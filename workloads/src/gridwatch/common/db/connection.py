"""Connections to the site database: one autocommit connection, or a sync or async pool, configured alike."""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, ConnectionPool

CONNECT_TIMEOUT_S = 5


def _kwargs(application: str) -> dict[str, object]:
    # autocommit: every transaction is explicit (`with conn.transaction():`), so no connection idles in one.
    return {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "application_name": f"gridwatch-{application}"}


def connect(conninfo: str, application: str) -> psycopg.Connection[TupleRow]:
    """An autocommit connection (transactions are explicit) with a short connect timeout."""
    conn: psycopg.Connection[TupleRow] = psycopg.connect(conninfo, **_kwargs(application))  # type: ignore[arg-type]
    return conn


def pool(
    conninfo: str, application: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 5.0
) -> ConnectionPool[psycopg.Connection[TupleRow]]:
    """A closed pool of autocommit connections; `open()` it (or use it as a context manager) to connect."""
    return ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout,
        kwargs=_kwargs(application),
    )


def async_pool(
    conninfo: str, application: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 3.0
) -> AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]:
    """The asyncio twin of `pool` (for the API): closed until `await pool.open()`; reconnects forever."""
    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout,
        reconnect_timeout=0,
        kwargs=_kwargs(application),
    )
