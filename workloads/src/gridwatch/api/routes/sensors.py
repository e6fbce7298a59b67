"""Sensor listing and detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from gridwatch.api.contract import Page, SensorState
from gridwatch.api.deps import CacheDep, OffsetQuery, RepoDep, limit_query
from gridwatch.api.encoding import MsgspecJSON, RawJSON, encode
from gridwatch.api.openapi import ok, problems
from gridwatch.common.schema import ReadingSource, SensorType, Status

SOURCE_CHUNK = 5000  # states read per HMGET when filtering by source
router = APIRouter(prefix="/sensors", tags=["sensors"], default_response_class=MsgspecJSON)


@router.get("", operation_id="listSensors", responses={**ok(Page[SensorState]), **problems(422, 503)})
async def list_sensors(
    repo: RepoDep,
    cache: CacheDep,
    status: Annotated[Status | None, Query(description="Only sensors in this status bin")] = None,
    type: Annotated[SensorType | None, Query(description="Only sensors of this type")] = None,
    q: Annotated[str | None, Query(max_length=128, description="Substring of the sensor or machine id")] = None,
    source: Annotated[
        ReadingSource | None,
        Query(description="Only sensors whose latest reading came from this source (reads every candidate's state)"),
    ] = None,
    limit: Annotated[int, limit_query(10_000)] = 100,
    offset: OffsetQuery = 0,
) -> RawJSON:
    """Sensors with their latest scored state, filtered and paginated (ordered by id)."""

    async def read() -> bytes:
        if status is None and type is None and not q and source is None:
            total, page = await repo.page_of_all(offset, limit)
        else:
            ids = await repo.sensor_ids(status, type)
            if q:
                needle = q.lower()
                ids = [i for i in ids if needle in i.lower()]
            if source is not None:
                # the source is no index of its own: filter the candidates' states (only when asked; cached)
                states = [
                    st for n in range(0, len(ids), SOURCE_CHUNK) for st in await repo.sensors(ids[n : n + SOURCE_CHUNK])
                ]
                matching = [st for st in states if st.source == source]
                page_states = matching[offset : offset + limit]
                return encode(Page(items=page_states, total=len(matching), limit=limit, offset=offset))
            total, page = len(ids), ids[offset : offset + limit]
        return encode(Page(items=await repo.sensors(page), total=total, limit=limit, offset=offset))

    return RawJSON(await cache.get(("sensors", status, type, q, source, limit, offset), read))


@router.get("/{sensor_id}", operation_id="getSensor", responses={**ok(SensorState), **problems(404, 422, 503)})
async def get_sensor(
    sensor_id: Annotated[str, Path(min_length=1, max_length=128, description="Sensor id")], repo: RepoDep
) -> MsgspecJSON:
    """Latest state of one sensor."""
    state = await repo.sensor(sensor_id)
    if state is None:
        raise HTTPException(404, f"sensor '{sensor_id}' not found")
    return MsgspecJSON(state)
