"""HTTP telemetry endpoint: `POST /api/v1/ingest/telemetry` with a gateway's bearer token."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gridwatch.common import tracing
from gridwatch.common.metrics import exposition
from gridwatch.common.schema import ReadingSource
from gridwatch.ingest import metrics
from gridwatch.ingest.payloads import MAX_ERRORS, PayloadError, Problem, decode_body, parse
from gridwatch.ingest.pipeline import Backpressure, Pipeline
from gridwatch.ingest.settings import IngestSettings
from gridwatch.ingest.tokens import TokenStore

PROBLEM = "application/problem+json"
SOURCE_HEADER = "X-Gridwatch-Source"
# what a request may say it carries; a live device need not say anything
HTTP_SOURCES: dict[str, ReadingSource] = {"http": ReadingSource.HTTP, "replay": ReadingSource.REPLAY}


class IngestResult(BaseModel):
    """What happened to the readings of one request."""

    gateway: str
    accepted: int = Field(description="Readings delivered to Kafka")
    rejected: int = Field(description="Readings refused one by one (sent to the DLQ with the reason)")
    errors: list[dict[str, Any]] = Field(default=[], description=f"The first {MAX_ERRORS} refused readings and why")


class GatewayView(BaseModel):
    """One gateway as this ingest replica saw it."""

    gateway: str
    transport: str
    first_seen: float
    last_seen: float
    readings: int
    rejected: int
    rejected_by_reason: dict[str, int]
    last_rejection: str | None
    sensors: int
    rate: float


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem response."""
    headers = dict(extra.pop("headers", {}))
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: IngestSettings, pipeline: Pipeline, tokens: TokenStore) -> FastAPI:
    """The ingest HTTP app for one site."""
    labels = pipeline.labels
    app = FastAPI(
        title="Gridwatch ingest",
        version="0.1.0",
        description="Device telemetry into the site's readings topic.",
    )

    def gateway_of(authorization: str | None) -> str | JSONResponse:
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            return problem(
                401, "Unauthorized", "a gateway bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        before = tokens.reloads
        gateway = tokens.gateway(authorization[7:].strip())
        if tokens.reloads != before:
            metrics.TOKEN_RELOADS.labels(**labels).inc(tokens.reloads - before)
        if gateway is None:
            return problem(403, "Forbidden", "the bearer token is not a known gateway token")
        return gateway

    @app.post(
        "/api/v1/ingest/telemetry",
        operation_id="ingestTelemetry",
        status_code=202,
        response_model=IngestResult,
        responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}, 503: {}},
        tags=["ingest"],
    )
    async def telemetry(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        source: Annotated[
            str | None,
            Header(
                alias=SOURCE_HEADER,
                description="`replay` when the readings are a recording played back (`gridwatch replay`); "
                "default `http`",
            ),
        ] = None,
    ) -> IngestResult | JSONResponse:
        """Readings of one gateway: ThingsBoard-style `{"ts", "values"}` (one or a list) or a gateway batch."""
        started = time.perf_counter()
        outcome = await _telemetry(request, authorization, source, started)
        metrics.REQUESTS.labels(**labels, transport="http", code=str(outcome.status_code)).inc()
        if outcome.status_code == 202:
            metrics.REQUEST_SECONDS.labels(**labels, transport="http").observe(time.perf_counter() - started)
        return outcome

    async def _telemetry(
        request: Request, authorization: str | None, source_header: str | None, started: float
    ) -> JSONResponse:
        gateway = gateway_of(authorization)
        if isinstance(gateway, JSONResponse):
            return gateway
        source = HTTP_SOURCES.get((source_header or "http").strip().lower())
        if source is None:
            return problem(
                422,
                "Unprocessable Content",
                f"{SOURCE_HEADER} '{source_header}' is not one of {', '.join(HTTP_SOURCES)}",
            )
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _TooLarge:
            return problem(413, "Payload Too Large", f"the body is larger than {settings.max_body_bytes} bytes")
        try:
            parsed = parse(
                decode_body(body, request.headers.get("content-type", "")), gateway, pipeline.lookup, time.time()
            )
        except PayloadError as exc:
            pipeline.reject(gateway, "http", body, f"request refused: {exc}", exc.problems)
            return problem(422, "Unprocessable Content", str(exc), errors=[p.to_dict() for p in exc.problems])
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[str | None] = loop.create_future()

        def settle(err: str | None) -> None:
            if not delivered.done():
                delivered.set_result(err)

        def done(err: str | None) -> None:
            loop.call_soon_threadsafe(settle, err)

        retry = {"Retry-After": str(Backpressure.retry_after_s)}
        try:
            pipeline.submit(gateway, "http", parsed, done, source)
        except Backpressure as exc:
            return problem(429, "Too Many Requests", f"Kafka is not keeping up ({exc}); retry later", headers=retry)
        try:
            err = await asyncio.wait_for(delivered, settings.ack_timeout_s)
        except TimeoutError:
            metrics.BACKPRESSURE.labels(**labels, transport="http").inc()
            return problem(
                429,
                "Too Many Requests",
                f"Kafka did not acknowledge within {settings.ack_timeout_s:g} s; retry later",
                headers=retry,
            )
        if err is not None:
            return problem(503, "Service Unavailable", f"Kafka refused the readings: {err}", headers=retry)
        result = IngestResult(
            gateway=gateway,
            accepted=parsed.size,
            rejected=parsed.rejected_total,
            errors=[p.to_dict() for p in parsed.rejected[:MAX_ERRORS]],
        )
        return JSONResponse(result.model_dump(), status_code=202)

    @app.get("/api/v1/ingest/gateways", operation_id="listIngestGateways", tags=["ingest"])
    async def gateways() -> list[GatewayView]:
        """Gateways this replica heard from: last seen, rate, rejected readings and why."""
        return [GatewayView(**row) for row in pipeline.snapshot()]

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ready = pipeline.started and pipeline.inflight < settings.max_inflight_messages
        return JSONResponse({"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    tracing.instrument_fastapi(app)
    return app


__all__ = ["IngestResult", "Problem", "create_app"]
