"""Alerts: list with filters, one alert with its history, acknowledge and clear (bearer token)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import BaseModel, Field

from gridwatch.api import alert_queries as queries
from gridwatch.api.contract import AlertDetail, AlertRecord, Page
from gridwatch.api.db import DbDep
from gridwatch.api.deps import ActingUser, OffsetQuery, WriteAuth, limit_query
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.common.schema import Severity

router = APIRouter(prefix="/alerts", tags=["alerts"], default_response_class=MsgspecJSON)
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id")]
WRITE_RESPONSES = {**ok(AlertRecord), **problems(401, 403, 404, 409, 422, 503)}


class Actor(BaseModel):
    """Who acts; recorded as acknowledged_by / cleared_by and in the alert's history (ignored when authentication
    is on: the token's user acts)."""

    by: str = Field(default="api", min_length=1, max_length=128)


@router.get("", operation_id="listAlerts", responses={**ok(Page[AlertRecord]), **problems(422, 503)})
async def list_alerts(
    db: DbDep,
    state: Annotated[Literal["active", "acknowledged", "cleared"] | None, Query(description="Lifecycle state")] = None,
    severity: Annotated[Severity | None, Query(description="Severity")] = None,
    sensor: Annotated[str | None, Query(min_length=1, max_length=128, description="Sensor id")] = None,
    limit: Annotated[int, limit_query(1000)] = 100,
    offset: OffsetQuery = 0,
) -> MsgspecJSON:
    """Alerts, most recently seen first, filtered and paginated."""
    async with db.connection() as conn:
        found = await queries.list_alerts(
            conn, db.site, state, severity.value if severity is not None else None, sensor, limit, offset
        )
    items = msgspec.convert(found["items"], list[AlertRecord])
    return MsgspecJSON(Page(items=items, total=found["total"], limit=limit, offset=offset))


@router.get("/{alert_id}", operation_id="getAlert", responses={**ok(AlertDetail), **problems(404, 422, 503)})
async def get_alert(db: DbDep, alert_id: AlertId) -> MsgspecJSON:
    """One alert with its lifecycle events."""
    async with db.connection() as conn:
        alert = await queries.get_alert(conn, db.site, alert_id)
        if alert is None:
            raise HTTPException(404, f"alert {alert_id} not found")
        alert["events"] = await queries.events(conn, db.site, alert_id)
    return MsgspecJSON(msgspec.convert(alert, AlertDetail))


async def _transition(db: DbDep, alert_id: int, action: str, user: str | None, actor: Actor | None) -> MsgspecJSON:
    by = user if user is not None else (actor or Actor()).by
    async with db.connection() as conn:
        try:
            alert = await queries.transition(conn, db.site, alert_id, action, by)
        except queries.TransitionRefused as exc:
            raise HTTPException(409, str(exc)) from exc
    if alert is None:
        raise HTTPException(404, f"alert {alert_id} not found")
    return MsgspecJSON(msgspec.convert(alert, AlertRecord))


@router.post(
    "/{alert_id}/ack",
    operation_id="acknowledgeAlert",
    dependencies=[WriteAuth],
    responses=WRITE_RESPONSES,
)
async def acknowledge(
    db: DbDep,
    alert_id: AlertId,
    user: ActingUser,
    actor: Annotated[Actor | None, Body(description="Who acknowledges")] = None,
) -> MsgspecJSON:
    """Acknowledge an active alert (409 otherwise); needs the bearer token."""
    return await _transition(db, alert_id, "ack", user, actor)


@router.post(
    "/{alert_id}/clear",
    operation_id="clearAlert",
    dependencies=[WriteAuth],
    responses=WRITE_RESPONSES,
)
async def clear(
    db: DbDep,
    alert_id: AlertId,
    user: ActingUser,
    actor: Annotated[Actor | None, Body(description="Who clears")] = None,
) -> MsgspecJSON:
    """Clear an active or acknowledged alert (409 when already cleared); needs the bearer token."""
    return await _transition(db, alert_id, "clear", user, actor)
