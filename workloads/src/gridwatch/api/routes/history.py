"""Historical analytics: downsampled one-minute rollups per sensor, sensor type or site."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import msgspec
from fastapi import APIRouter, HTTPException, Query

from gridwatch.api.contract import HistoryPoint, HistorySeries, HistorySummary
from gridwatch.api.db import DbDep
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.common.schema import SensorType
from gridwatch.history import query

router = APIRouter(prefix="/analytics", tags=["analytics"], default_response_class=MsgspecJSON)
DEFAULT_RANGE_S = 86400.0
LATEST_TS = 253402300799.0  # 9999-12-31T23:59:59Z, the last instant PostgreSQL's to_timestamp and ISO 8601 share


class Metric(StrEnum):
    """Quantity of a history series."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    ENERGY_KWH = "energy_kwh"
    ANOMALIES = "anomalies"
    READINGS = "readings"


def time_range(start: str | None, end: str | None) -> tuple[float, float]:
    """Parse from/to (default: the last 24 hours) or answer 422 saying what is wrong."""
    try:
        to = query.parse_time(end) if end else time.time()
        fr = query.parse_time(start) if start else to - DEFAULT_RANGE_S
    except ValueError as exc:
        raise HTTPException(422, f"from/to must be epoch seconds or ISO 8601 times: {exc}") from exc
    if max(fr, to) > LATEST_TS:
        raise HTTPException(422, "from/to must be before the year 10000")
    if fr >= to:
        raise HTTPException(422, f"'from' ({fr}) must be before 'to' ({to})")
    return fr, to


@router.get("/history", operation_id="analyticsHistory", responses={**ok(HistorySeries), **problems(422, 503)})
async def history(
    db: DbDep,
    sensor: Annotated[str | None, Query(min_length=1, max_length=128, description="One sensor's series")] = None,
    type: Annotated[SensorType | None, Query(description="Aggregate over the sensors of this type")] = None,
    metric: Annotated[Metric, Query(description="Quantity per bucket")] = Metric.MEAN,
    start: Annotated[str | None, Query(alias="from", max_length=64, description="Start (epoch or ISO 8601)")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description="End, exclusive (default now)")] = None,
    step: Annotated[
        int | None,
        Query(ge=60, le=366 * 86400, description="Bucket seconds, a multiple of 60 (default: <= 500 points)"),
    ] = None,
) -> MsgspecJSON:
    """A downsampled series of one-minute rollups; no sensor and no type means the whole site."""
    fr, to = time_range(start, end)
    if sensor is None and type is None and metric.value in query.VALUE_METRICS:
        raise HTTPException(
            422,
            f"metric '{metric.value}' mixes units across sensor types at site level; "
            "pass type= or sensor=, or use energy_kwh, anomalies or readings",
        )
    if step is None:
        step = query.default_step(fr, to)
    elif step < 60 or step % 60:
        raise HTTPException(422, f"step must be a multiple of 60 seconds (at least 60), got {step}")
    points = query.bucket_count(fr, to, step)
    if points > query.MAX_POINTS:
        raise HTTPException(422, f"{points} points asked for; at most {query.MAX_POINTS}: widen step or narrow from/to")
    async with db.connection() as conn:
        data = await query.series(
            conn,
            db.site,
            metric.value,
            fr,
            to,
            step,
            sensor=sensor,
            sensor_type=type.value if type is not None else None,
        )
    return MsgspecJSON(
        HistorySeries(
            sensor=sensor,
            type=type,
            metric=metric.value,
            from_=fr,
            to=to,
            step=step,
            points=msgspec.convert(data, list[HistoryPoint]),
        )
    )


@router.get("/summary", operation_id="analyticsSummary", responses={**ok(HistorySummary), **problems(422, 503)})
async def summary(
    db: DbDep,
    start: Annotated[str | None, Query(alias="from", max_length=64, description="Start (epoch or ISO 8601)")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description="End, exclusive (default now)")] = None,
) -> MsgspecJSON:
    """Energy, anomaly and reading totals per sensor type over a period (default the last 24 hours).

    `sensors` is the most sensors of the type that reported within one minute of the period.
    """
    fr, to = time_range(start, end)
    async with db.connection() as conn:
        found = await query.summary(conn, db.site, fr, to)
    return MsgspecJSON(msgspec.convert(found, HistorySummary))
