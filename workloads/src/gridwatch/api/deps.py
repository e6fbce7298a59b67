"""Dependency aliases for routes: settings, repository, live hub, write authorization and the acting user."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gridwatch.api.auth import principal_of
from gridwatch.api.cache import MicroCache
from gridwatch.api.live import LiveHub
from gridwatch.api.repository import Repository
from gridwatch.api.settings import ApiSettings

# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` dependency in a worker
# thread, a thread hop per request that cost more than the Redis reads of /api/v1/dashboard/stats.


async def get_settings(request: Request) -> ApiSettings:
    """The app's settings."""
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_repo(request: Request) -> Repository:
    """The app's Redis repository."""
    repo: Repository = request.app.state.repo
    return repo


async def get_cache(request: Request) -> MicroCache:
    """The app's micro-cache of live-state answers."""
    cache: MicroCache = request.app.state.cache
    return cache


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
CacheDep = Annotated[MicroCache, Depends(get_cache)]
# Offsets beyond this are client errors (422), not a Redis or PostgreSQL failure: no site has a billion rows to page.
MAX_OFFSET = 1_000_000_000
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]


def limit_query(maximum: int) -> Any:
    """The `limit` parameter of a list, for `Annotated[int, limit_query(N)] = default`: 1..N items per page."""
    return Query(ge=1, le=maximum, description=f"Items per page (at most {maximum})")


RepoDep = Annotated[Repository, Depends(get_repo)]
_bearer = HTTPBearer(auto_error=False)


async def require_token(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow a write only with the configured bearer token (401 without one, 403 when wrong).

    With an OIDC issuer configured (api/auth.py), a valid JWT holding the write scopes is accepted too.
    """
    if request.app.state.auth is not None:
        await principal_of(request, request.app.state.auth.write_scopes)
        return
    expected = settings.token.get_secret_value()
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is required for this operation",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not expected:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "writes are disabled: GRIDWATCH_API_TOKEN is not set")
    if not secrets.compare_digest(credentials.credentials, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the bearer token is not valid")


WriteAuth = Depends(require_token)


async def acting_user(request: Request, _: Annotated[None, Depends(require_token)]) -> str | None:
    """The user a write acts as when authentication is on (the token's, never a request field); None when off."""
    principal = getattr(request.state, "principal", None)
    return None if principal is None else str(principal.user)


ActingUser = Annotated[str | None, Depends(acting_user)]


async def get_hub(request: Request) -> LiveHub:
    """The app's live hub."""
    hub: LiveHub = request.app.state.hub
    return hub
