"""The API's contract on real Redis and PostgreSQL: /api/v1 with seed aliases, typed bodies, problem+json, limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from gridwatch.api.app import create_app
from gridwatch.api.settings import ApiSettings
from starlette.websockets import WebSocketDisconnect

from tests.infra.services import Postgres, Redis
from tests.utils.site_state import seed_site
from tests.utils.workloads import free_port

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


@pytest.fixture
def settings(redis_server: Redis, postgres: Postgres, site: str) -> ApiSettings:
    return ApiSettings(site=site, redis_url=redis_server.url, postgres_dsn=postgres.dsn, rate_limit_rps=0)


@pytest.fixture
def client(settings: ApiSettings, redis_client: redis.Redis) -> Iterator[TestClient]:
    seed_site(redis_client, settings.site, 250)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def assert_problem(response: object, status: int) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["title"]
    return body


@pytest.mark.parametrize(
    ("v1", "alias"),
    [
        ("/api/v1/sensors?limit=5", "/api/sensors?limit=5"),
        ("/api/v1/sensors/s00003", "/api/sensors/s00003"),
        ("/api/v1/dashboard/stats", "/api/dashboard/stats"),
        ("/api/v1/energy-data/realtime?limit=3", "/api/energy-data/realtime?limit=3"),
        ("/api/v1/health", "/health"),
    ],
)
def test_seed_paths_are_aliases_of_v1(client: TestClient, v1: str, alias: str) -> None:
    a, b = client.get(v1), client.get(alias)
    assert a.status_code == b.status_code == 200
    drop = {"updated_at", "ts", "age_seconds"}
    strip = {k: v for k, v in a.json().items() if k not in drop} if isinstance(a.json(), dict) else a.json()
    assert set(a.json()) == set(b.json())
    assert strip.keys() == {k: v for k, v in b.json().items() if k not in drop}.keys()


def test_sensors_page_envelope(client: TestClient) -> None:
    body = client.get("/api/v1/sensors", params={"limit": 100, "offset": 200}).json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (250, 100, 200, 50)
    assert body["items"][0]["id"] == "s00200"
    critical = client.get("/api/v1/sensors", params={"status": "critical"}).json()
    assert critical["total"] == 5 and all(s["status"] == "critical" for s in critical["items"])


def test_large_lists_are_gzipped(client: TestClient) -> None:
    response = client.get("/api/v1/sensors", params={"limit": 250}, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["items"]) == 250
    small = client.get("/api/v1/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_huge_offsets_are_client_errors(client: TestClient) -> None:
    # was 503 "Redis is unavailable: Command # 2 (ZRANGE gw:local:index ...)" on sensors and 500 on alerts
    for path in ("/api/v1/sensors", "/api/sensors", "/api/v1/alerts", "/api/alerts"):
        body = assert_problem(client.get(path, params={"offset": 10**19}), 422)
        assert "gw:" not in str(body) and "ZRANGE" not in str(body)
        assert body["errors"]
    assert_problem(client.get("/api/v1/sensors", params={"limit": 0}), 422)
    assert client.get("/api/v1/alerts", params={"offset": 10**9}).json()["items"] == []


def test_unknown_sensor_is_a_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/sensors/nope"), 404)
    assert body["detail"] == "sensor 'nope' not found"


def test_history_rejects_times_beyond_postgres_range(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/analytics/summary", params={"from": "1e300", "to": "1e301"}), 422)


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/api/v1/dashboard/stats").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_tariff_without_the_computation(client: TestClient) -> None:
    body = client.get("/api/v1/optimization/tariff").json()
    assert body["currency"] == "EUR" and {p["name"] for p in body["periods"]} == {"peak", "off-peak"}


def test_rate_limit_answers_429(settings: ApiSettings, redis_client: redis.Redis) -> None:
    limited = settings.model_copy(update={"rate_limit_rps": 1.0, "rate_limit_burst": 3})
    with TestClient(create_app(limited)) as client:
        codes = [client.get("/api/v1/dashboard/stats").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        response = client.get("/api/v1/dashboard/stats")
        assert_problem(response, 429)
        assert response.headers["retry-after"] == "1"
        assert client.get("/readyz").status_code == 200  # probes are never throttled


def test_websocket_ignores_binary_and_garbage_frames(client: TestClient) -> None:
    # a binary frame used to raise KeyError('text') in the receive loop
    with client.websocket_connect("/api/v1/ws") as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["stats"]["total_sensors"] == 250
        ws.send_bytes(b"\x00\xff\xfe binary")
        ws.send_text("{not json")
        ws.send_bytes(b"")
        update = ws.receive_json()  # still served: the next periodic update arrives
        assert update["type"] == "update"
    with client.websocket_connect("/ws") as ws:  # the seed path
        assert ws.receive_json()["type"] == "snapshot"


def test_redis_outage_answers_problem_without_internals(postgres: Postgres, site: str) -> None:
    port = free_port()  # nothing listens here
    settings = ApiSettings(site=site, redis_url=f"redis://127.0.0.1:{port}/0", postgres_dsn=postgres.dsn)
    with TestClient(create_app(settings)) as client:
        for path in ("/api/v1/dashboard/stats", "/api/v1/sensors", "/api/sensors/x", "/api/v1/producer/status"):
            response = client.get(path)
            body = assert_problem(response, 503)
            assert body["detail"] == "Redis is unavailable"
            assert str(port) not in response.text and "127.0.0.1" not in response.text
            assert response.headers["retry-after"] == "2"
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/v1/ws") as ws:
            event = ws.receive_json()
            assert event == {"type": "error", "ts": event["ts"], "detail": "Redis is unavailable"}
            ws.close()
            ws.receive_json()
