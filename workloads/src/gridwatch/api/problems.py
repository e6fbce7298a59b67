"""Errors as RFC 9457 problem details: one handler per failure family, never echoing internal text to clients."""

from __future__ import annotations

import http
from collections.abc import Mapping

import msgspec
import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gridwatch.api import metrics
from gridwatch.api.contract import FieldError, Problem
from gridwatch.api.db import PG_ERRORS
from gridwatch.api.openapi import PROBLEM_JSON

log = structlog.get_logger(__name__)
_encoder = msgspec.json.Encoder()
RETRY = {"Retry-After": "2"}


def problem(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None, **extra: object
) -> Response:
    """A problem+json response (title from the status)."""
    body = Problem(title=http.HTTPStatus(status).phrase, status=status, detail=detail, **extra)  # type: ignore[arg-type]
    return Response(_encoder.encode(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI, labels: dict[str, str]) -> None:
    """Register the handlers: HTTP errors, invalid requests, Redis and PostgreSQL outages, anything else."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(exc.status_code, detail, exc.headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(
                loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                msg=str(e.get("msg", "")),
                type=str(e.get("type", "")),
            )
            for e in exc.errors()
        ]
        return problem(422, "the request is not valid: see errors", errors=errors)

    async def redis_down(request: Request, exc: Exception) -> Response:
        metrics.REDIS_ERRORS.labels(**labels).inc()
        log.warning("redis unavailable", error=str(exc), path=request.url.path)
        return problem(503, "Redis is unavailable", RETRY)

    async def postgres_down(request: Request, exc: Exception) -> Response:
        PG_ERRORS.labels(**labels).inc()
        log.warning("postgres unavailable", error=str(exc), path=request.url.path)
        return problem(503, "PostgreSQL is unavailable", RETRY)

    async def not_migrated(request: Request, exc: Exception) -> Response:
        PG_ERRORS.labels(**labels).inc()
        return problem(503, "PostgreSQL schema is not ready yet", RETRY)

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return problem(500, "internal error; see the API's log")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    # redis-py raises its own errors, and plain socket errors (ConnectionError, TimeoutError) from some paths
    for exc_type in (RedisError, ConnectionError, TimeoutError):
        app.add_exception_handler(exc_type, redis_down)
    app.add_exception_handler(psycopg.errors.UndefinedTable, not_migrated)
    app.add_exception_handler(psycopg.OperationalError, postgres_down)
    app.add_exception_handler(Exception, crashed)
