"""Optimization suggestions: peak shifting, maintenance, efficiency and operational changes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from gridwatch.api.db import DbDep
from gridwatch.api.deps import RepoDep
from gridwatch.optimizer.service import Optimizer
from gridwatch.optimizer.settings import OptimizerSettings

router = APIRouter(prefix="/api/optimization", tags=["optimization"])


class Kind(StrEnum):
    """Suggestion rule."""

    PEAK_SHIFTING = "peak_shifting"
    MAINTENANCE = "maintenance"
    EFFICIENCY = "efficiency"
    OPERATIONAL = "operational"


def _optimizer(request: Request) -> Optimizer:
    optimizer: Optimizer | None = getattr(request.app.state, "optimizer", None)
    if optimizer is None:
        optimizer = request.app.state.optimizer = Optimizer(OptimizerSettings())
    return optimizer


@router.get("/suggestions", operation_id="optimizationSuggestions")
async def suggestions(
    request: Request,
    db: DbDep,
    repo: RepoDep,
    kind: Annotated[Kind | None, Query(description="Only suggestions of this kind")] = None,
    min_priority: Annotated[float, Query(ge=0, le=100, description="Only suggestions at least this urgent")] = 0.0,
) -> dict[str, Any]:
    """Suggestions from live state and history, highest priority first, with estimated savings."""
    result = await _optimizer(request).suggestions(db, repo)
    items = [i for i in result["items"] if (kind is None or i["kind"] == kind.value) and i["priority"] >= min_priority]
    return {**result, "items": items}
