"""FastAPI application factory: routes, Redis connection, live hub, metrics and the web UI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from gridwatch.api import db as database
from gridwatch.api import metrics
from gridwatch.api.live import LiveHub
from gridwatch.api.repository import Repository
from gridwatch.api.routes import alerts as alert_routes
from gridwatch.api.routes import dashboard, health, sensors, ws
from gridwatch.api.routes import history as history_routes
from gridwatch.api.routes import optimization as optimization_routes
from gridwatch.api.routes import site as site_routes
from gridwatch.api.settings import ApiSettings
from gridwatch.common import tracing


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the API for one site."""
    labels = metrics.init(settings.site)
    site_stats = metrics.SiteStats(labels)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=3, socket_connect_timeout=2, health_check_interval=10
        )
        repo = Repository(client, settings.site, settings.producer_timeout_s)
        hub = LiveHub(client, repo, repo.keys.channel, settings.ws_update_interval_s, labels)
        app.state.settings = settings
        app.state.repo = repo
        app.state.hub = hub
        app.state.db = await database.open_database(settings)
        hub.start()
        site_stats.start(repo)
        try:
            yield
        finally:
            await site_stats.stop()
            await database.close_database(app.state.db)
            await hub.stop()
            await client.aclose()

    app = FastAPI(
        title="Gridwatch API",
        version="0.1.0",
        description="Live state, analytics and control of one Gridwatch site.",
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        route = _route_template(app, request)
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            if route != "/metrics":
                metrics.REQUESTS.labels(**labels, route=route, method=request.method, status=str(status)).observe(
                    time.perf_counter() - started
                )

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> JSONResponse:
        metrics.REDIS_ERRORS.labels(**labels).inc()
        return JSONResponse({"detail": f"Redis is unavailable: {exc}"}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(ConnectionError)
    async def redis_socket_down(request: Request, exc: ConnectionError) -> JSONResponse:
        metrics.REDIS_ERRORS.labels(**labels).inc()
        return JSONResponse({"detail": f"Redis is unavailable: {exc}"}, status_code=503, headers={"Retry-After": "2"})

    for router in (health.router, sensors.router, dashboard.router, ws.router):
        app.include_router(router)
    for router in (history_routes.router, alert_routes.router, optimization_routes.router, site_routes.router):
        app.include_router(router)
    database.install(app, {"site": settings.site, "component": "api"})
    app.add_api_route("/metrics", metrics.exposition, include_in_schema=False)
    tracing.instrument_fastapi(app)
    if settings.static_dir is not None and settings.static_dir.is_dir():
        app.mount("/", SpaStaticFiles(directory=settings.static_dir, html=True), name="ui")
    return app


class SpaStaticFiles(StaticFiles):
    """The built UI; unknown paths outside the API answer with index.html so deep links like /sensors/x work."""

    NOT_UI = ("api", "assets", "metrics", "ws", "docs", "redoc", "openapi.json", "health")

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as exc:
            if exc.status_code != 404 or path.split("/", 1)[0] in self.NOT_UI:
                raise
            response = await super().get_response("index.html", scope)
            response.headers["Cache-Control"] = "no-cache"
            return response


def _route_template(app: FastAPI, request: Request) -> str:
    """The matched route's path template, so metrics do not get one series per sensor id."""
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", request.url.path))
    return "unmatched"


def main(settings: ApiSettings) -> None:
    """Entry point for `gridwatch api`: serve with uvicorn (SIGTERM drains connections)."""
    import uvicorn

    from gridwatch.common.logging import configure_logging

    configure_logging(settings.log_level, site=settings.site, component="api")
    tracing.configure("gridwatch-api")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # live updates are small and sent to every client: compressing them per client costs more than it saves
        ws_per_message_deflate=False,
    )
