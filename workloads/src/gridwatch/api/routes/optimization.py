"""Optimization suggestions (peak shifting, maintenance, efficiency, operational) and the tariff they price with."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Request

from gridwatch.api.contract import Suggestion, SuggestionPage, TariffInfo, TariffPeriod
from gridwatch.api.db import DbDep
from gridwatch.api.deps import OffsetQuery, limit_query
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.api.suggestions import Suggestions

router = APIRouter(prefix="/optimization", tags=["optimization"], default_response_class=MsgspecJSON)


class Kind(StrEnum):
    """Suggestion rule."""

    PEAK_SHIFTING = "peak_shifting"
    MAINTENANCE = "maintenance"
    EFFICIENCY = "efficiency"
    OPERATIONAL = "operational"


def _service(request: Request) -> Suggestions:
    service: Suggestions = request.app.state.suggestions
    return service


@router.get(
    "/suggestions", operation_id="optimizationSuggestions", responses={**ok(SuggestionPage), **problems(422, 503)}
)
async def suggestions(
    request: Request,
    db: DbDep,
    kind: Annotated[Kind | None, Query(description="Only suggestions of this kind")] = None,
    min_priority: Annotated[float, Query(ge=0, le=100, description="Only suggestions at least this urgent")] = 0.0,
    limit: Annotated[int, limit_query(1000)] = 100,
    offset: OffsetQuery = 0,
) -> MsgspecJSON:
    """Suggestions from live state and history, highest priority first, with estimated savings."""
    result = await _service(request).get(db)
    picked = [i for i in result.items if (kind is None or i.kind == kind.value) and i.priority >= min_priority]
    items = msgspec.convert([i.to_json() for i in picked[offset : offset + limit]], list[Suggestion])
    return MsgspecJSON(
        SuggestionPage(
            items=items,
            total=len(picked),
            limit=limit,
            offset=offset,
            generated_at=result.generated_at,
            currency=result.currency,
            window_hours=result.window_hours,
        )
    )


@router.get("/tariff", operation_id="optimizationTariff", responses=ok(TariffInfo))
async def tariff(request: Request) -> MsgspecJSON:
    """The tariff suggestions are priced with: currency, time zone and price periods (no computation)."""
    t = _service(request).tariff
    periods = [
        TariffPeriod(name=p.name, start_hour=p.start_hour, end_hour=p.end_hour, price=p.price, days=list(p.days))
        for p in t.periods
    ]
    return MsgspecJSON(TariffInfo(currency=t.currency, timezone=t.zone, periods=periods))
