"""Health (`/api/v1/health`, alias `/health`) and the unversioned probes `/livez` and `/readyz`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from redis.exceptions import RedisError

from gridwatch.api.contract import Health, Probe
from gridwatch.api.deps import RepoDep
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok
from gridwatch.api.repository import Repository

router = APIRouter(tags=["health"], default_response_class=MsgspecJSON)
probes = APIRouter(default_response_class=MsgspecJSON, include_in_schema=False)


async def _redis_up(repo: Repository) -> bool:
    try:
        return bool(await asyncio.wait_for(repo.client.ping(), timeout=1.0))
    except (RedisError, OSError, TimeoutError):
        return False


@router.get("/health", operation_id="health", responses=ok(Health))
async def health(repo: RepoDep) -> MsgspecJSON:
    """Service health: always 200 while the process runs, with the state of Redis."""
    up = await _redis_up(repo)
    return MsgspecJSON(Health(status="ok" if up else "degraded", redis="up" if up else "down", site=repo.site))


@probes.get("/livez", operation_id="liveness")
async def liveness() -> MsgspecJSON:
    """Liveness probe: the event loop answers."""
    return MsgspecJSON(Probe(status="ok"))


@probes.get("/readyz", operation_id="readiness")
async def readiness(repo: RepoDep) -> MsgspecJSON:
    """Readiness probe: 503 while Redis is unreachable."""
    if await _redis_up(repo):
        return MsgspecJSON(Probe(status="ready"))
    return MsgspecJSON(Probe(status="not ready"), status_code=503)
