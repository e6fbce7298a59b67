"""Sensor listing and detail."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, HTTPException, Query, Response

from gridwatch.api.deps import RepoDep
from gridwatch.common.schema import SensorType, Status

router = APIRouter(prefix="/api/sensors", tags=["sensors"])


@router.get("", operation_id="listSensors")
async def list_sensors(
    repo: RepoDep,
    status: Annotated[Status | None, Query(description="Only sensors in this status bin")] = None,
    type: Annotated[SensorType | None, Query(description="Only sensors of this type")] = None,
    q: Annotated[str | None, Query(max_length=128, description="Substring of the sensor or machine id")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Sensors with their latest scored state, filtered and paginated (ordered by id)."""
    if status is None and type is None and not q:
        total, page = await repo.page_of_all(offset, limit)
    else:
        ids = await repo.sensor_ids(status, type)
        if q:
            needle = q.lower()
            ids = [i for i in ids if needle in i.lower()]
        total, page = len(ids), ids[offset : offset + limit]
    items = await repo.sensors(page)
    body = {"total": total, "limit": limit, "offset": offset, "items": items}
    return Response(msgspec.json.encode(body), media_type="application/json")


@router.get("/{sensor_id}", operation_id="getSensor")
async def get_sensor(sensor_id: str, repo: RepoDep) -> dict[str, Any]:
    """Latest state of one sensor."""
    state = await repo.sensor(sensor_id)
    if state is None:
        raise HTTPException(404, f"sensor '{sensor_id}' not found")
    result: dict[str, Any] = msgspec.to_builtins(state)
    return result
