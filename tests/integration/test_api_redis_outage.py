"""The API answers 503 with a clear body while Redis is down and recovers by itself."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.infra.services import Redis
from tests.utils.workloads import Workload, free_port, wait_for


def test_api_503_while_redis_is_down_and_recovers(base_env: dict[str, str], tmp_path: Path) -> None:
    redis_server = Redis(tmp_path / "redis-outage").start()
    port = free_port()
    api = Workload(
        "api",
        {
            **base_env,
            "GRIDWATCH_REDIS_URL": redis_server.url,
            "GRIDWATCH_API_PORT": str(port),
            "GRIDWATCH_API_CACHE_TTL_S": "0.25",
        },
        tmp_path,
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 30, "API ready", logs=(api,))
        assert httpx.get(f"{base}/api/dashboard/stats").status_code == 200
        redis_server.stop()
        # identical requests within the API's micro-cache TTL (GRIDWATCH_API_CACHE_TTL_S, 0.25 s) share one read;
        # past it every request must go to Redis and so fail
        time.sleep(0.5)
        for path in ("/api/dashboard/stats", "/api/sensors", "/api/sensors/x", "/api/producer/status"):
            response = httpx.get(base + path, timeout=10)
            assert response.status_code == 503, (path, response.text)
            assert "Redis is unavailable" in response.json()["detail"]
        assert httpx.get(f"{base}/readyz").status_code == 503
        health = httpx.get(f"{base}/health").json()
        assert health["redis"] == "down"
        assert httpx.get(f"{base}/livez").status_code == 200
        redis_server.start()
        wait_for(lambda: httpx.get(f"{base}/api/dashboard/stats").status_code == 200, 30, "recovery", logs=(api,))
        # the probe pings on a pooled connection; one that Redis closed while down may fail a first ping, so the
        # probe must turn ready again, as a kubelet polling it would see
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 10, "readiness after recovery", logs=(api,))
    finally:
        api.stop()
        redis_server.stop()
