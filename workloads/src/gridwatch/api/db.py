"""PostgreSQL for the API: an async pool opened in the lifespan and migrations (outages: api/problems.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
import structlog
from fastapi import Depends, HTTPException, Request
from prometheus_client import Counter
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from gridwatch.api import tasks
from gridwatch.common.db.connection import async_pool
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.settings import CommonSettings

PG_ERRORS = Counter(
    "gridwatch_api_postgres_errors_total", "Requests that failed because PostgreSQL was down", ("site", "component")
)
log = structlog.get_logger(__name__)


class Database:
    """An async connection pool plus a background task that applies the schema migrations."""

    def __init__(self, conninfo: str, site: str) -> None:
        self.conninfo = conninfo
        self.site = site
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = async_pool(conninfo, "api")
        self.migrated = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the pool without waiting for the server and migrate in the background until it succeeds."""
        await self.pool.open(wait=False)
        self._task = asyncio.create_task(self._migrate(), name="postgres-migrate")

    async def _migrate(self) -> None:
        delay = 0.5
        while True:
            try:
                applied = await asyncio.to_thread(_migrate_once, self.conninfo)
            except psycopg.Error as exc:
                if tasks.stopping():
                    raise asyncio.CancelledError from exc
                log.warning("postgres migrations pending; retrying", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if applied:
                log.info("migrations applied", migrations=applied)
            self.migrated.set()
            return

    async def stop(self) -> None:
        """Stop migrating and close the pool."""
        await tasks.cancel([self._task], "database migrations")
        await self.pool.close(timeout=tasks.STOP_TIMEOUT_S)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
        """A pooled autocommit connection."""
        async with self.pool.connection() as conn:
            yield conn

    async def ping(self) -> bool:
        """True when PostgreSQL answers."""
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                await conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False


def _migrate_once(conninfo: str) -> list[str]:
    with connect(conninfo, "api-migrate") as conn:
        return ensure_schema(conn)


async def open_database(settings: CommonSettings) -> Database | None:
    """The site's database when one is configured (GRIDWATCH_POSTGRES_DSN), started; else None."""
    conninfo = settings.postgres_conninfo
    if not conninfo:
        return None
    db = Database(conninfo, settings.site)
    await db.start()
    return db


async def close_database(db: Database | None) -> None:
    """Close what open_database opened."""
    if db is not None:
        await db.stop()


async def get_db(request: Request) -> Database:
    """The app's database, or 503 when PostgreSQL is not configured."""
    db: Database | None = getattr(request.app.state, "db", None)
    if db is None:
        raise HTTPException(503, "PostgreSQL is not configured: set GRIDWATCH_POSTGRES_DSN")
    return db


DbDep = Annotated[Database, Depends(get_db)]
