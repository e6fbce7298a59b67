"""OpenAPI from the msgspec contract: `ok(T)` / `problems(...)` declare a route's responses, `build` publishes them."""

from __future__ import annotations

import http
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gridwatch.api import contract

REF = "#/components/schemas/{name}"
PROBLEM_JSON = "application/problem+json"
_components: dict[str, Any] = {}
# Problem codes every operation can answer, whatever its route declares (the rate limiter sits before routing).
ALWAYS = (429,)


def schema_of(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a type, its named parts registered as OpenAPI components."""
    (schema,), components = msgspec.json.schema_components([tp], ref_template=REF)
    _components.update(components)
    return schema


def ok(tp: Any, status: int = 200, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    """A route's success response with `tp` as its `application/json` body."""
    return {status: {"description": description, "content": {"application/json": {"schema": schema_of(tp)}}}}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One documented error status with a problem+json body."""
    return {
        "description": description or http.HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": schema_of(contract.Problem)}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error statuses a route can answer, each as problem+json."""
    return {status: problem_response(status) for status in statuses}


def build(app: FastAPI, extra: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The app's OpenAPI document: the msgspec components, problem+json for every error, WebSocket events."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for tp in extra:
        schema_of(tp)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for code, response in list(responses.items()):
                content = response.get("content", {})
                if code == "422" and "application/json" in content:  # FastAPI's own validation error shape
                    responses[code] = problem_response(422)
            for status in ALWAYS:
                responses.setdefault(str(status), problem_response(status))
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(_components)
    app.openapi_schema = doc
    return doc
