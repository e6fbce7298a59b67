"""API routers, one module per area, each mounted under `/api/v1` (the seed's paths stay as aliases).

How to add a v1 router (nothing else to register: `v1_routers()` finds every module here that defines `router`):

1. Create `api/routes/<area>.py` with `router = APIRouter(prefix="/<area>", tags=["<area>"])`; the prefix is relative
   to `/api/v1` (so `/forecast` serves `/api/v1/forecast`).
2. Give every route a stable camelCase `operation_id` (the UI's generated client uses it), `response_class=MsgspecJSON`
   and `responses={**ok(contract.Thing), **problems(404, 503)}` listing every status it can answer (`ok` and
   `problems` are in `gridwatch.api.openapi`); return the msgspec Struct. Declare the Struct in `api/contract.py`
   (or next to the route when only it uses it). Lists return `contract.Page[T]` and take `OffsetQuery` and a
   `limit_query(...)` from `gridwatch.api.deps`.
3. Raise `HTTPException(404, "sensor 'x' not found")` for client errors: the handlers in `api/problems.py` turn
   it, invalid parameters and Redis/PostgreSQL outages into problem+json without internal details.
4. Run `make api-types` and commit `frontend/src/lib/api/` (a test fails while the committed types are stale).

Every router except those in `OPEN` is mounted behind `auth.read_access`: with an OIDC issuer configured
(GRIDWATCH_API_AUTH_ISSUER) its routes need a token (401/403, documented here for all of them); writes add
`deps.WriteAuth`. The WebSocket checks its token itself (routes/ws.py), since it cannot answer an HTTP status.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, Depends

from gridwatch.api.auth import read_access
from gridwatch.api.openapi import problems

V1 = "/api/v1"
# The seed's paths, answered by the same handlers (kept out of OpenAPI; docs/api.md lists them): module -> prefix.
ALIASES: dict[str, str] = {
    "health": "",
    "ws": "",
    "sensors": "/api",
    "dashboard": "/api",
    "alerts": "/api",
    "history": "/api",
    "optimization": "/api",
    "site": "/api",
}


# No token needed: health (like the probes, a load balancer's check) and the WebSocket (authenticates itself).
OPEN = frozenset({"health", "ws"})
READ_AUTH = [Depends(read_access)]


def v1_routers() -> list[tuple[str, APIRouter]]:
    """(module name, router) of every route module in this package, sorted by name."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((info.name, router))
    return found


def mount(app_router: APIRouter) -> None:
    """Include every v1 router under /api/v1 and the seed's aliases (hidden from the schema)."""
    for name, router in v1_routers():
        prefix = "" if router.prefix.startswith(V1) else V1
        guard = {} if name in OPEN else {"dependencies": READ_AUTH, "responses": problems(401, 403, 503)}
        app_router.include_router(router, prefix=prefix, **guard)  # type: ignore[arg-type]
        if name in ALIASES:
            app_router.include_router(router, prefix=ALIASES[name], include_in_schema=False, **guard)  # type: ignore[arg-type]
