"""Dashboard aggregates, realtime bundle and producer status."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query

from gridwatch.api.deps import RepoDep

router = APIRouter(prefix="/api", tags=["dashboard"])


@router.get("/dashboard/stats", operation_id="dashboardStats")
async def dashboard_stats(repo: RepoDep) -> dict[str, Any]:
    """Total power and energy, anomalies, sensors by status and the riskiest sensors."""
    return await repo.stats()


@router.get("/producer/status", operation_id="producerStatus")
async def producer_status(repo: RepoDep) -> dict[str, Any]:
    """Last heartbeat per producer and whether a producer is connected."""
    return await repo.producer_status()


@router.get("/energy-data/realtime", operation_id="realtime")
async def realtime(repo: RepoDep, limit: Annotated[int, Query(ge=0, le=10_000)] = 200) -> dict[str, Any]:
    """Sensors (riskiest first, up to `limit`), site stats and producer status in one call."""
    sensors = await repo.top_sensors(limit)
    return {
        "sensors": msgspec.to_builtins(sensors),
        "stats": await repo.stats(),
        "producer": await repo.producer_status(),
    }
