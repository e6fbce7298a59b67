"""Health, liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from gridwatch.api.deps import RepoDep

router = APIRouter(tags=["health"])


async def _redis_up(repo: RepoDep) -> bool:
    try:
        return bool(await repo.client.ping())
    except (RedisError, OSError):
        return False


@router.get("/health", operation_id="health")
async def health(repo: RepoDep) -> dict[str, Any]:
    """Service health: always 200 while the process runs, with the state of Redis."""
    up = await _redis_up(repo)
    return {"status": "ok" if up else "degraded", "redis": "up" if up else "down", "site": repo.site}


@router.get("/livez", operation_id="liveness", include_in_schema=False)
async def liveness() -> dict[str, str]:
    """Liveness probe: the event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readiness", include_in_schema=False)
async def readiness(repo: RepoDep) -> JSONResponse:
    """Readiness probe: 503 while Redis is unreachable."""
    if await _redis_up(repo):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "detail": "Redis is unavailable"}, status_code=503)
