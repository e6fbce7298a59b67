"""FastAPI application factory: routes, Redis connection, live hub, metrics and the web UI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from gridwatch.api import contract, metrics, openapi, problems, routes
from gridwatch.api import db as database
from gridwatch.api.auth import Authenticator, DocsGuard
from gridwatch.api.cache import MicroCache
from gridwatch.api.energy_today import EnergyToday, from_database
from gridwatch.api.live import LiveHub
from gridwatch.api.middleware import Observe, RateLimit
from gridwatch.api.repository import Repository
from gridwatch.api.routes import health
from gridwatch.api.settings import ApiSettings
from gridwatch.api.suggestions import Suggestions
from gridwatch.common import redisclient, tracing


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the API for one site."""
    labels = metrics.init(settings.site)
    site_stats = metrics.SiteStats(labels)
    auth = Authenticator.from_settings(settings)  # None: reads open (the default, as in `make up`)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = redisclient.connect_async(settings, health_check_interval=10)
        repo = Repository(client, settings.site, settings.producer_timeout_s)
        hub = LiveHub(client, repo, repo.keys.channel, settings.ws_update_interval_s, labels)
        app.state.settings = settings
        app.state.repo = repo
        app.state.hub = hub
        app.state.db = await database.open_database(settings)
        app.state.suggestions = Suggestions(settings, repo)
        app.state.cache = MicroCache(settings.cache_ttl_s)
        if auth is not None:
            await auth.start()
        hub.start()
        site_stats.start(repo)
        today: EnergyToday | None = None
        if app.state.db is not None:  # no PostgreSQL, no history to price: no *_today gauges
            compute = from_database(app.state.db, settings.timezone, app.state.suggestions.tariff)
            today = EnergyToday(labels, compute, settings.energy_today_interval_s)
            today.start()
        try:
            yield
        finally:
            if today is not None:
                await today.stop()
            await site_stats.stop()
            await database.close_database(app.state.db)
            await hub.stop()
            await client.aclose()
            if auth is not None:
                await auth.aclose()

    app = FastAPI(
        title="Gridwatch API",
        version="0.1.0",
        description="Live state, analytics and control of one Gridwatch site.",
        lifespan=lifespan,
    )
    app.state.auth = auth  # set before any request: a missing authenticator must never mean "open"
    app.openapi = lambda: openapi.build(app, extra=(contract.LiveEvent,))  # type: ignore[method-assign]
    # large lists (sensors, alerts, history) compress 5-10x; small bodies are not worth the CPU
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )
    if auth is not None and auth.protect_docs:
        app.add_middleware(DocsGuard, auth=auth)
    app.add_middleware(RateLimit, rate=settings.rate_limit_rps, burst=settings.rate_limit_burst)
    app.add_middleware(Observe, labels=labels)  # outermost: sees (and times) every answer, 429s included

    problems.install(app, labels)
    app.include_router(health.probes)
    routes.mount(app.router)
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
