"""The per-client token bucket and the route template that keys request metrics."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from gridwatch.api.middleware import RateLimit, route_template


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def test_bucket_allows_the_burst_then_the_rate() -> None:
    limit = RateLimit(_app, rate=2.0, burst=3)
    assert [limit.allow("a", 100.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b", 100.0)  # per client
    assert not limit.allow("a", 100.4)  # 0.8 token refilled
    assert limit.allow("a", 100.6)  # 1.2 tokens
    assert [limit.allow("a", 110.0) for _ in range(4)] == [True, True, True, False]  # refills to the burst only


def test_bucket_forgets_the_least_recent_clients() -> None:
    limit = RateLimit(_app, rate=1.0, burst=1, max_clients=2)
    for client in ("a", "b", "c"):
        limit.allow(client, 0.0)
    assert list(limit.buckets) == ["b", "c"]


def route(path: str) -> SimpleNamespace:
    regex = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
    return SimpleNamespace(path=path, path_regex=regex)


def test_route_template_keeps_the_mount_prefix() -> None:
    sensor = route("/sensors/{sensor_id}")
    assert route_template({"path": "/api/v1/sensors/s1", "route": sensor}) == "/api/v1/sensors/{sensor_id}"
    assert route_template({"path": "/api/sensors/s1", "route": sensor}) == "/api/sensors/{sensor_id}"
    assert route_template({"path": "/health", "route": route("/health")}) == "/health"
    assert route_template({"path": "/nope"}) == "unmatched"
