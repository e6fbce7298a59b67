"""GET /api/v1/forecast: the forecaster's latest load forecast of the site or a machine, with its model."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

import msgspec
from fastapi import APIRouter, HTTPException, Query

from gridwatch.api import history_query as query
from gridwatch.api.db import DbDep
from gridwatch.api.deps import RepoDep
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.api.routes.history import time_range
from gridwatch.common.schema import Forecast

router = APIRouter(prefix="/forecast", tags=["forecast"], default_response_class=MsgspecJSON)


class Scope(StrEnum):
    """What the forecast is of."""

    SITE = "site"
    MACHINE = "machine"


class ForecastPoint(msgspec.Struct, frozen=True):
    """One step of a forecast: its start (epoch seconds) and the P10/P50/P90 of the mean kW over the step."""

    ts: float
    p10: float
    p50: float
    p90: float


class ForecastOut(msgspec.Struct, frozen=True):
    """The latest forecast of one series: when it was issued, by which model, how well that model backtested."""

    site: str
    scope: str
    id: str
    unit: str
    issued_ts: float
    step_s: float
    model: str
    model_version: str
    backtest_mase: float
    yardstick_mase: float
    history_steps: int
    points: list[ForecastPoint]


class ActualPoint(msgspec.Struct, frozen=True):
    """The measured mean kW over one step starting at `ts`."""

    ts: float
    kw: float


class ActualOut(msgspec.Struct, frozen=True):
    """What the forecast series really drew, per step, from the PostgreSQL rollups (the forecaster's own history)."""

    site: str
    scope: str
    id: str
    unit: str
    step_s: int
    from_: float = msgspec.field(name="from")
    to: float
    points: list[ActualPoint]


def redis_key(site: str) -> str:
    """The forecaster's hash of latest forecasts (`scope:id` -> JSON), see gridwatch.forecasting.runner."""
    return f"gw:{site}:forecasts"


@router.get("", operation_id="getForecast", responses={**ok(ForecastOut), **problems(404, 422, 503)})
async def get_forecast(
    repo: RepoDep,
    scope: Annotated[Scope, Query(description="site or machine")] = Scope.SITE,
    id: Annotated[str, Query(max_length=128, description="Machine id (scope=machine); ignored for the site")] = "",
    horizon: Annotated[int | None, Query(ge=1, le=7 * 1440, description="Minutes ahead (default: all)")] = None,
) -> MsgspecJSON:
    """The latest forecast with its P10-P90 band, model version and backtest error."""
    series = "site" if scope is Scope.SITE else id
    if not series:
        raise HTTPException(422, "scope=machine needs an id")
    blob = await repo.client.hget(redis_key(repo.site), f"{scope.value}:{series}")
    if blob is None:
        raise HTTPException(404, f"no forecast for {scope.value} '{series}' yet")
    f = msgspec.json.decode(blob, type=Forecast)
    steps = len(f.p50) if horizon is None else min(len(f.p50), math.ceil(horizon * 60 / f.step_s))
    points = [
        ForecastPoint(ts=f.start_ts + i * f.step_s, p10=f.p10[i], p50=f.p50[i], p90=f.p90[i]) for i in range(steps)
    ]
    return MsgspecJSON(
        ForecastOut(
            site=f.site,
            scope=f.scope.value,
            id=f.id,
            unit=f.unit,
            issued_ts=f.issued_ts,
            step_s=f.step_s,
            model=f.model,
            model_version=f.model_version,
            backtest_mase=f.backtest_mase,
            yardstick_mase=f.yardstick_mase,
            history_steps=f.history_steps,
            points=points,
        )
    )


@router.get("/actual", operation_id="getForecastActual", responses={**ok(ActualOut), **problems(422, 503)})
async def get_actual(
    db: DbDep,
    scope: Annotated[Scope, Query(description="site or machine")] = Scope.SITE,
    id: Annotated[str, Query(max_length=128, description="Machine id (scope=machine); ignored for the site")] = "",
    start: Annotated[str | None, Query(alias="from", max_length=64, description="Start (default: 24 h ago)")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description="End, exclusive (default now)")] = None,
    step: Annotated[int, Query(ge=60, le=86400, description="Step seconds, a multiple of 60")] = 900,
) -> MsgspecJSON:
    """The measured load of the forecast's series per step, to draw beside the forecast (same definition of kW)."""
    series = "site" if scope is Scope.SITE else id
    if not series:
        raise HTTPException(422, "scope=machine needs an id")
    if step % 60:
        raise HTTPException(422, f"step must be a multiple of 60 seconds, got {step}")
    fr, to = time_range(start, end)
    if query.bucket_count(fr, to, step) > query.MAX_POINTS:
        raise HTTPException(422, f"more than {query.MAX_POINTS} steps asked for: widen step or narrow from/to")
    machine = None if scope is Scope.SITE else series
    async with db.connection() as conn:
        rows = await query.site_load_kw(conn, db.site, fr, to, step, machine=machine)
    return MsgspecJSON(
        ActualOut(
            site=db.site,
            scope=scope.value,
            id=series,
            unit="kW",
            step_s=step,
            from_=fr,
            to=to,
            points=[ActualPoint(ts=r["ts"], kw=r["kw"]) for r in rows],
        )
    )
