"""Dashboard aggregates, realtime bundle and producer status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gridwatch.api.contract import DashboardStats, ProducerStatus, Realtime
from gridwatch.api.deps import CacheDep, RepoDep
from gridwatch.api.encoding import MsgspecJSON, RawJSON, encode
from gridwatch.api.openapi import ok, problems

router = APIRouter(tags=["dashboard"], default_response_class=MsgspecJSON)


@router.get("/dashboard/stats", operation_id="dashboardStats", responses={**ok(DashboardStats), **problems(503)})
async def dashboard_stats(repo: RepoDep, cache: CacheDep) -> RawJSON:
    """Total power and energy, anomalies, sensors by status and the riskiest sensors."""

    async def read() -> bytes:
        return encode(await repo.stats())

    return RawJSON(await cache.get("stats", read))


@router.get("/producer/status", operation_id="producerStatus", responses={**ok(ProducerStatus), **problems(503)})
async def producer_status(repo: RepoDep, cache: CacheDep) -> RawJSON:
    """Last heartbeat per producer and whether a producer is connected."""

    async def read() -> bytes:
        return encode(await repo.producer_status())

    return RawJSON(await cache.get("producers", read))


@router.get("/energy-data/realtime", operation_id="realtime", responses={**ok(Realtime), **problems(422, 503)})
async def realtime(
    repo: RepoDep, limit: Annotated[int, Query(ge=0, le=10_000, description="Most sensors to include")] = 200
) -> MsgspecJSON:
    """Sensors (riskiest first, up to `limit`), site stats and producer status in one call."""
    sensors = await repo.top_sensors(limit)
    return MsgspecJSON(Realtime(sensors=sensors, stats=await repo.stats(), producer=await repo.producer_status()))
