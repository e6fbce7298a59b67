"""GET /api/v1/models: the model registry (versions, states, backtest metrics) and the version each replica runs."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query

from gridwatch.api.contract import Page
from gridwatch.api.db import DbDep
from gridwatch.api.deps import OffsetQuery, RepoDep, limit_query
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.common import registry
from gridwatch.common.registry import ModelKind, ModelRecord, ModelState

router = APIRouter(prefix="/models", tags=["models"], default_response_class=MsgspecJSON)
STALE_S = 900.0  # a replica that has not reported for this long is no longer listed


class Replica(msgspec.Struct, frozen=True):
    """One processor or forecaster replica: the version it serves and the last one it failed to load."""

    replica: str
    kind: str
    version: int | None
    seen_ts: float
    failed_version: int | None
    error: str


class RunningOut(msgspec.Struct, frozen=True):
    """Every replica that reported within the last 15 minutes."""

    replicas: list[Replica]


class BacktestRow(msgspec.Struct, frozen=True):
    """One forecasting model's rolling-origin backtest scores on the site series."""

    name: str
    mase: float
    smape: float
    pinball: float
    coverage_p10_p90: float


class ModelOut(msgspec.Struct, frozen=True):
    """One registered model: what it is, what it was trained on, how it backtested, where it runs."""

    kind: str
    version: int
    name: str
    state: str
    algorithm: str
    window_start: float
    window_end: float
    features: list[str]
    primary_metric: str
    primary_value: float | None
    metrics: dict[str, float]
    backtest: list[BacktestRow]
    checksum: str
    size_bytes: int
    created_by: str
    created_at: float
    promoted_at: float | None
    retired_at: float | None
    serving: list[Replica]


def _model(r: ModelRecord, replicas: list[Replica]) -> ModelOut:
    numeric = {k: float(v) for k, v in r.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    table = r.metrics.get("site_models")
    backtest = msgspec.convert(table, list[BacktestRow]) if isinstance(table, list) else []
    return ModelOut(
        kind=r.kind.value,
        version=r.version,
        name=r.name,
        state=r.state.value,
        algorithm=r.algorithm,
        window_start=r.window_start,
        window_end=r.window_end,
        features=r.features,
        primary_metric=registry.PRIMARY_METRIC[r.kind],
        primary_value=r.primary,
        metrics=numeric,
        backtest=backtest,
        checksum=r.checksum,
        size_bytes=r.size_bytes,
        created_by=r.created_by,
        created_at=r.created_at,
        promoted_at=r.promoted_at,
        retired_at=r.retired_at,
        serving=[x for x in replicas if x.kind == r.kind.value and x.version == r.version],
    )


async def _replicas(repo: RepoDep) -> list[Replica]:
    raw: dict[Any, Any] = await repo.client.hgetall(registry.running_key(repo.site))
    now = time.time()
    out = []
    for name, blob in sorted(raw.items()):
        try:
            value = json.loads(blob)
            replica = Replica(
                replica=name.decode() if isinstance(name, bytes) else str(name),
                kind=str(value["kind"]),
                version=value.get("version"),
                seen_ts=float(value["seen_ts"]),
                failed_version=value.get("failed_version"),
                error=str(value.get("error", "")),
            )
        except (ValueError, KeyError, TypeError):
            continue  # not written by a watcher: ignore rather than fail the listing
        if now - replica.seen_ts <= STALE_S:
            out.append(replica)
    return out


@router.get("", operation_id="listModels", responses={**ok(Page[ModelOut]), **problems(422, 503)})
async def list_models(
    db: DbDep,
    repo: RepoDep,
    kind: Annotated[ModelKind | None, Query(description="forecaster or detector")] = None,
    state: Annotated[ModelState | None, Query(description="candidate, promoted or retired")] = None,
    limit: Annotated[int, limit_query(500)] = 100,
    offset: OffsetQuery = 0,
) -> MsgspecJSON:
    """Registered models, newest first per kind, each with the replicas serving it."""
    k = None if kind is None else kind.value
    async with db.connection() as conn:
        cur = await conn.execute(registry.LIST_SQL, (db.site, k, k))
        rows = await cur.fetchall()
    records = [registry.record(r) for r in rows]
    if state is not None:
        records = [r for r in records if r.state is state]
    replicas = await _replicas(repo)
    items = [_model(r, replicas) for r in records[offset : offset + limit]]
    return MsgspecJSON(Page(items=items, total=len(records), limit=limit, offset=offset))


@router.get("/running", operation_id="listRunningModels", responses={**ok(RunningOut), **problems(503)})
async def running(repo: RepoDep) -> MsgspecJSON:
    """The version each processor and forecaster replica serves (and the last it failed to load), per replica."""
    return MsgspecJSON(RunningOut(replicas=await _replicas(repo)))
