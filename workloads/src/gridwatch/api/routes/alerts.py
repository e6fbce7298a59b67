"""Alerts: list with filters, one alert with its history, acknowledge and clear (bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import BaseModel, Field

from gridwatch.alerting import queries
from gridwatch.api.db import DbDep
from gridwatch.api.deps import WriteAuth
from gridwatch.common.schema import Severity

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id")]


class Actor(BaseModel):
    """Who acts; recorded as acknowledged_by / cleared_by and in the alert's history."""

    by: str = Field(default="api", min_length=1, max_length=128)


@router.get("", operation_id="listAlerts")
async def list_alerts(
    db: DbDep,
    state: Annotated[
        str | None, Query(pattern="^(active|acknowledged|cleared)$", description="Lifecycle state")
    ] = None,
    severity: Annotated[Severity | None, Query(description="Severity")] = None,
    sensor: Annotated[str | None, Query(min_length=1, max_length=128, description="Sensor id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Alerts, most recently seen first, filtered and paginated."""
    async with db.connection() as conn:
        return await queries.list_alerts(
            conn, db.site, state, severity.value if severity is not None else None, sensor, limit, offset
        )


@router.get("/{alert_id}", operation_id="getAlert")
async def get_alert(db: DbDep, alert_id: AlertId) -> dict[str, Any]:
    """One alert with its lifecycle events."""
    async with db.connection() as conn:
        alert = await queries.get_alert(conn, db.site, alert_id)
        if alert is None:
            raise HTTPException(404, f"alert {alert_id} not found")
        alert["events"] = await queries.events(conn, db.site, alert_id)
    return alert


async def _transition(db: DbDep, alert_id: int, action: str, actor: Actor | None) -> dict[str, Any]:
    async with db.connection() as conn:
        try:
            alert = await queries.transition(conn, db.site, alert_id, action, (actor or Actor()).by)
        except queries.TransitionRefused as exc:
            raise HTTPException(409, str(exc)) from exc
    if alert is None:
        raise HTTPException(404, f"alert {alert_id} not found")
    return alert


@router.post("/{alert_id}/ack", operation_id="acknowledgeAlert", dependencies=[WriteAuth])
async def acknowledge(
    db: DbDep, alert_id: AlertId, actor: Annotated[Actor | None, Body(description="Who acknowledges")] = None
) -> dict[str, Any]:
    """Acknowledge an active alert (409 otherwise); needs the bearer token."""
    return await _transition(db, alert_id, "ack", actor)


@router.post("/{alert_id}/clear", operation_id="clearAlert", dependencies=[WriteAuth])
async def clear(
    db: DbDep, alert_id: AlertId, actor: Annotated[Actor | None, Body(description="Who clears")] = None
) -> dict[str, Any]:
    """Clear an active or acknowledged alert (409 when already cleared); needs the bearer token."""
    return await _transition(db, alert_id, "clear", actor)
