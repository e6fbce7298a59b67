"""The grid ingestor's control API (`/api/v1/ingest/grid/stream`: POST start, DELETE stop, GET status)."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from confluent_kafka import Producer
from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from gridwatch.common import kafka
from gridwatch.common.metrics import exposition
from gridwatch.grid import metrics
from gridwatch.grid.poller import Poller
from gridwatch.grid.settings import GridSettings

_bearer = HTTPBearer(auto_error=False)


class StreamRequest(BaseModel):
    """Which sources to start; all configured ones when omitted."""

    sources: list[str] | None = Field(default=None, description="Source names")


class StreamStatus(BaseModel):
    """The stream's state: running, since when, and per source the last fetch, errors and last good values."""

    running: bool
    started_at: float | None
    sources: list[dict[str, Any]]


def create_app(settings: GridSettings, producer: Producer | None = None) -> FastAPI:
    """The grid ingestor for one site."""
    labels = metrics.init(settings.site)
    own = producer is None
    kafka_producer = producer or Producer(
        kafka.producer_config(settings.kafka_bootstrap, f"grid@{socket.gethostname()}")
    )
    poller = Poller(settings, kafka_producer, labels)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kafka.ensure_topics(
            settings.kafka_bootstrap, [settings.topic("grid")], settings.partitions, settings.replication_factor
        )
        if settings.autostart:
            poller.start()
        try:
            yield
        finally:
            await poller.stop()
            if own:
                kafka_producer.flush(10)

    app = FastAPI(title="Gridwatch grid ingestor", version="0.1.0", lifespan=lifespan)

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        expected = settings.token.get_secret_value()
        if credentials is None:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if not expected or not secrets.compare_digest(credentials.credentials, expected):
            raise HTTPException(403, "the bearer token is not valid")

    def status() -> StreamStatus:
        now = time.time()
        return StreamStatus(
            running=poller.running, started_at=poller.started_at, sources=[s.view(now) for s in poller.status.values()]
        )

    @app.post("/api/v1/ingest/grid/stream", operation_id="startGridStream", status_code=202, tags=["grid"],
              dependencies=[Depends(require_token)], responses={401: {}, 403: {}, 404: {}})  # fmt: skip
    async def start(request: Annotated[StreamRequest | None, Body()] = None) -> StreamStatus:
        """Start polling (all sources, or the named ones)."""
        names = request.sources if request is not None else None
        unknown = sorted(set(names or []) - set(poller.status))
        if unknown:
            raise HTTPException(404, f"unknown grid source(s) {unknown}; configured: {sorted(poller.status)}")
        poller.start(names)
        return status()

    @app.delete("/api/v1/ingest/grid/stream", operation_id="stopGridStream", tags=["grid"],
                dependencies=[Depends(require_token)], responses={401: {}, 403: {}})  # fmt: skip
    async def stop() -> StreamStatus:
        """Stop polling; the last good values stay readable."""
        await poller.stop()
        return status()

    @app.get("/api/v1/ingest/grid/stream", operation_id="getGridStream", tags=["grid"])
    async def get() -> StreamStatus:
        """Whether the stream runs, the last fetch, errors and the last good value per source."""
        return status()

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    app.state.poller = poller
    return app


def main(settings: GridSettings) -> None:
    """Entry point for `gridwatch grid`."""
    import uvicorn

    from gridwatch.common.logging import configure_logging
    from gridwatch.common.shutdown import StopFlag

    configure_logging(settings.log_level, site=settings.site, component="grid")
    StopFlag().install()  # uvicorn re-raises the SIGTERM it drained on: let it land on a handler, exit 0
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
