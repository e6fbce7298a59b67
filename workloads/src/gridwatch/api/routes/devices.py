"""Devices: gateways the ingest heard from (last seen, rate, rejected readings and why) and their sensors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query

from gridwatch.api.contract import Page
from gridwatch.api.db import DbDep
from gridwatch.api.deps import OffsetQuery, limit_query
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems

router = APIRouter(prefix="/devices", tags=["devices"], default_response_class=MsgspecJSON)


class Gateway(msgspec.Struct):
    """One gateway, summed over the ingest replicas that heard from it."""

    gateway: str
    transport: str
    first_seen: datetime
    last_seen: datetime
    readings: int
    rejected: int
    rejected_by_reason: dict[str, int]
    last_rejection: str | None
    sensors: int
    declared_sensors: int
    rate: float


class DeclaredSensor(msgspec.Struct):
    """A sensor as its gateway declared it (or as the ingest inferred it from the key's name)."""

    sensor_id: str
    gateway: str
    type: str
    unit: str
    machine: str
    declared_at: datetime
    updated_at: datetime


@router.get("", operation_id="listDevices", responses={**ok(Page[Gateway]), **problems(422, 503)})
async def list_devices(
    db: DbDep, limit: Annotated[int, limit_query(1000)] = 100, offset: OffsetQuery = 0
) -> MsgspecJSON:
    """Gateways, most recently seen first."""
    async with db.connection() as conn:
        cur = await conn.execute(
            """
            WITH g AS (
                SELECT gateway, (array_agg(transport ORDER BY last_seen DESC))[1] AS transport,
                       min(first_seen) AS first_seen, max(last_seen) AS last_seen, sum(readings)::bigint AS readings,
                       sum(rejected)::bigint AS rejected, (array_agg(last_rejection ORDER BY last_seen DESC))[1]
                       AS last_rejection, max(sensors) AS sensors, sum(rate) AS rate,
                       (SELECT coalesce(jsonb_object_agg(k, total), '{}') FROM (
                            SELECT e.key AS k, sum(e.value::bigint) AS total
                            FROM gw_ingest_gateways r, jsonb_each_text(r.rejected_by_reason) e
                            WHERE r.site = %(site)s AND r.gateway = x.gateway GROUP BY e.key) t) AS reasons
                FROM gw_ingest_gateways x WHERE site = %(site)s GROUP BY gateway
            )
            SELECT g.*, (SELECT count(*) FROM gw_ingest_sensors s WHERE s.site = %(site)s AND s.gateway = g.gateway),
                   count(*) OVER ()
            FROM g ORDER BY last_seen DESC, gateway LIMIT %(limit)s OFFSET %(offset)s
            """,
            {"site": db.site, "limit": limit, "offset": offset},
        )
        rows = await cur.fetchall()
    items = [
        Gateway(
            gateway=r[0],
            transport=r[1],
            first_seen=r[2],
            last_seen=r[3],
            readings=int(r[4]),
            rejected=int(r[5]),
            last_rejection=r[6],
            sensors=int(r[7]),
            rate=float(r[8]),
            rejected_by_reason=_counts(r[9]),
            declared_sensors=int(r[10]),
        )
        for r in rows
    ]
    total = int(rows[0][11]) if rows else await _gateway_count(db)
    return MsgspecJSON(Page(items=items, total=total, limit=limit, offset=offset))


@router.get(
    "/sensors", operation_id="listDeclaredSensors", responses={**ok(Page[DeclaredSensor]), **problems(422, 503)}
)
async def list_sensors(
    db: DbDep,
    gateway: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this gateway's")] = None,
    limit: Annotated[int, limit_query(1000)] = 100,
    offset: OffsetQuery = 0,
) -> MsgspecJSON:
    """Declared sensors, by id."""
    async with db.connection() as conn:
        cur = await conn.execute(
            """
            SELECT sensor_id, gateway, type, unit, machine, declared_at, updated_at, count(*) OVER ()
            FROM gw_ingest_sensors WHERE site = %(site)s AND (%(gateway)s::text IS NULL OR gateway = %(gateway)s)
            ORDER BY sensor_id LIMIT %(limit)s OFFSET %(offset)s
            """,
            {"site": db.site, "gateway": gateway, "limit": limit, "offset": offset},
        )
        rows = await cur.fetchall()
    items = [DeclaredSensor(*r[:7]) for r in rows]
    total = int(rows[0][7]) if rows else 0
    return MsgspecJSON(Page(items=items, total=total, limit=limit, offset=offset))


def _counts(raw: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (raw or {}).items()}


async def _gateway_count(db: DbDep) -> int:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT count(DISTINCT gateway) FROM gw_ingest_gateways WHERE site = %s", (db.site,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0
