"""The published OpenAPI is the contract: real schemas for every body, problem+json errors, stable operation ids."""

from __future__ import annotations

import re
from typing import Any

import pytest
from gridwatch.api.app import create_app
from gridwatch.api.routes import ALIASES, V1, v1_routers
from gridwatch.api.settings import ApiSettings


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return create_app(ApiSettings()).openapi()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]


def test_every_path_is_versioned(doc: dict[str, Any]) -> None:
    assert doc["paths"] and all(path.startswith(f"{V1}/") for path in doc["paths"])


def test_every_success_body_has_a_real_schema(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for path, method, op in operations(doc):
        if path.startswith(f"{V1}/export/"):  # the CSV exports: a text body, described in prose
            assert list(op["responses"]["200"]["content"]) == ["text/csv"], path
            assert op["responses"]["200"]["description"], path
            continue
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        ref = ok.get("$ref", "")
        assert ref.startswith("#/components/schemas/") and set(ok) == {"$ref"}, (method, path, ok)
        target = schemas[ref.rsplit("/", 1)[1]]
        assert target.get("type") == "object" and target.get("properties"), (method, path, target)


def test_every_error_is_problem_json(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        errors = {code: r for code, r in op["responses"].items() if not code.startswith("2")}
        assert "429" in errors, (method, path)
        for code, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (method, path, code)
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in errors, (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_writes_document_their_auth_failures(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        if method == "post":
            assert {"401", "403"} <= set(op["responses"]), path


def test_operation_ids_are_unique_camel_case(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids


def test_websocket_events_are_published(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name in ("SnapshotEvent", "UpdateEvent", "CriticalAlertsEvent", "ErrorEvent", "ProducerDisconnectedEvent"):
        assert schemas[name]["properties"]["type"]["enum"], name


def test_the_seed_aliases_name_real_routers_and_stay_unpublished(doc: dict[str, Any]) -> None:
    names = {name for name, _ in v1_routers()}
    assert set(ALIASES) <= names
    assert not any(p.startswith("/api/sensors") for p in doc["paths"])
