"""Historical analytics: downsampled one-minute rollups per sensor, sensor type or site."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import msgspec
import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from psycopg.rows import TupleRow

from gridwatch.api import costs
from gridwatch.api import history_query as query
from gridwatch.api.contract import EnergyCost, HistoryPoint, HistorySeries, HistorySummary
from gridwatch.api.db import DbDep
from gridwatch.api.deps import SettingsDep
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.common import sitetime
from gridwatch.common.schema import UNITS, SensorType
from gridwatch.common.sitetime import Per
from gridwatch.optimizer.tariff import Tariff

router = APIRouter(prefix="/analytics", tags=["analytics"], default_response_class=MsgspecJSON)
DEFAULT_RANGE_S = 86400.0
_TYPES = frozenset(t.value for t in SensorType)
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


def time_range(start: str | None, end: str | None, zone: str | None = None) -> tuple[float, float]:
    """Parse from/to (default: the last 24 hours, or since the local midnight in `zone`) or answer 422."""
    try:
        to = query.parse_time(end) if end else time.time()
        if start:
            fr = query.parse_time(start)
        else:
            fr = to - DEFAULT_RANGE_S if zone is None else sitetime.start_of_day(to, zone)
    except ValueError as exc:
        raise HTTPException(422, f"from/to must be epoch seconds or ISO 8601 times: {exc}") from exc
    if max(fr, to) > LATEST_TS:
        raise HTTPException(422, "from/to must be before the year 10000")
    if fr >= to:
        raise HTTPException(422, f"'from' ({fr}) must be before 'to' ({to})")
    return fr, to


def calendar(fr: float, to: float, zone: str, per: Per) -> list[float]:
    """The site's local days or hours covering [from, to), or 422 when there are too many."""
    try:
        bounds = sitetime.bounds(fr, to, zone, per)
    except ValueError as exc:
        raise HTTPException(422, f"{exc}: narrow from/to") from exc
    if len(bounds) - 1 > query.MAX_POINTS:
        raise HTTPException(422, f"{len(bounds) - 1} {per.value}s asked for; at most {query.MAX_POINTS}")
    return bounds


@router.get("/history", operation_id="analyticsHistory", responses={**ok(HistorySeries), **problems(422, 503)})
async def history(
    db: DbDep,
    settings: SettingsDep,
    sensor: Annotated[str | None, Query(min_length=1, max_length=128, description="One sensor's series")] = None,
    type: Annotated[SensorType | None, Query(description="Aggregate over the sensors of this type")] = None,
    metric: Annotated[Metric, Query(description="Quantity per bucket")] = Metric.MEAN,
    start: Annotated[str | None, Query(alias="from", max_length=64, description="Start (epoch or ISO 8601)")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description="End, exclusive (default now)")] = None,
    step: Annotated[
        int | None,
        Query(ge=60, le=366 * 86400, description="Bucket seconds, a multiple of 60 (default: <= 500 points)"),
    ] = None,
    per: Annotated[
        Per | None,
        Query(description="Calendar buckets in the site's time zone instead of step (DST days have 23/25 hours)"),
    ] = None,
) -> MsgspecJSON:
    """A downsampled series of one-minute rollups; no sensor and no type means the whole site."""
    fr, to = time_range(start, end)
    if per is not None and step is not None:
        raise HTTPException(422, "pass either step or per, not both")
    if sensor is None and type is None and metric.value in query.VALUE_METRICS:
        raise HTTPException(
            422,
            f"metric '{metric.value}' mixes units across sensor types at site level; "
            "pass type= or sensor=, or use energy_kwh, anomalies or readings",
        )
    bounds = None if per is None else calendar(fr, to, settings.timezone, per)
    if per is not None:
        step = 86400 if per is Per.DAY else 3600  # nominal; the points' ts are the true local boundaries
    elif step is None:
        step = query.default_step(fr, to)
    elif step < 60 or step % 60:
        raise HTTPException(422, f"step must be a multiple of 60 seconds (at least 60), got {step}")
    points = query.bucket_count(fr, to, step) if bounds is None else len(bounds) - 1
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
            bounds=bounds,
        )
        unit = await _unit(conn, db.site, metric, sensor, type)
    return MsgspecJSON(
        HistorySeries(
            sensor=sensor,
            type=type,
            metric=metric.value,
            from_=fr,
            to=to,
            step=step,
            points=msgspec.convert(data, list[HistoryPoint]),
            per=None if per is None else per.value,
            timezone=settings.timezone,
            unit=unit,
        )
    )


async def _unit(
    conn: psycopg.AsyncConnection[TupleRow], site: str, metric: Metric, sensor: str | None, type: SensorType | None
) -> str | None:
    """The unit of a series' values: kWh, readings (counts), or the sensor type's unit for the value metrics."""
    if metric is Metric.ENERGY_KWH:
        return "kWh"
    if metric in (Metric.ANOMALIES, Metric.READINGS):
        return "readings"
    if type is None and sensor is not None:
        found = await query.sensor_type_of(conn, site, sensor)
        type = SensorType(found) if found in _TYPES else None
    return None if type is None else UNITS[type]


@router.get("/energy", operation_id="analyticsEnergy", responses={**ok(EnergyCost), **problems(422, 503)})
async def energy(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    start: Annotated[
        str | None, Query(alias="from", max_length=64, description="Start (default: the site's local midnight)")
    ] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description="End, exclusive (default now)")] = None,
    per: Annotated[Per, Query(description="Local days or hours of the site's time zone")] = Per.DAY,
) -> MsgspecJSON:
    """The site's energy and its cost at the site's tariff per local day or hour; no parameters: today so far."""
    fr, to = time_range(start, end, settings.timezone)
    bounds = calendar(fr, to, settings.timezone, per)
    tariff: Tariff = request.app.state.suggestions.tariff
    async with db.connection() as conn:
        found = await costs.energy_cost(conn, db.site, settings.timezone, tariff, fr, to, per, bounds)
    return MsgspecJSON(found)


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
