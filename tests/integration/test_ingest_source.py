"""A sensor's source on real servers: readings posted over HTTP (live and replayed) reach the API as their source."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from gridwatch.common.rediskeys import Keys
from gridwatch.ingest.tokens import new_token

from tests.infra.services import Postgres
from tests.utils.workloads import Workload, free_port, wait_for


def test_http_and_replayed_readings_show_their_source_in_the_api(
    base_env: dict[str, str], redis_client: redis.Redis, postgres: Postgres, site: str, tmp_path: Path
) -> None:
    token, line = new_token("gw-src")
    (tmp_path / "tokens").write_text(line + "\n")
    ingest_port, api_port = free_port(), free_port()
    ingest = Workload(
        "ingest",
        {
            **base_env,
            "GRIDWATCH_INGEST_HOST": "127.0.0.1",
            "GRIDWATCH_INGEST_PORT": str(ingest_port),
            "GRIDWATCH_INGEST_TOKENS_FILE": str(tmp_path / "tokens"),
        },
        tmp_path,
    )
    proc = Workload("processor", {**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    api = Workload(
        "api",
        {
            **base_env,
            "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
            "GRIDWATCH_API_PORT": str(api_port),
            "GRIDWATCH_METRICS_PORT": str(free_port()),
        },
        tmp_path,
    )
    url = f"http://127.0.0.1:{ingest_port}/api/v1/ingest/telemetry"
    base = f"http://127.0.0.1:{api_port}/api/v1"
    auth = {"Authorization": f"Bearer {token}"}

    def post(sensor: str, value: float, **headers: str) -> httpx.Response:
        now_ms = int(time.time() * 1000)
        body = {"sensors": [{"id": sensor, "type": "power", "machine": "m-src"}], "ts": [now_ms], "values": [[value]]}
        return httpx.post(url, json=body, headers={**auth, **headers}, timeout=30)

    def source_of(sensor: str) -> Any:
        response = httpx.get(f"{base}/sensors/{sensor}", timeout=10)
        return response.json().get("source") if response.status_code == 200 else "missing"

    proc.start()
    ingest.start()
    api.start()
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{ingest_port}/readyz").status_code == 200, 180, "ingest")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{api_port}/readyz").status_code == 200, 180, "API", logs=(api,))
        assert post("src-live", 10.0).status_code == 202
        assert post("src-replayed", 11.0, **{"X-Gridwatch-Source": "replay"}).status_code == 202
        wait_for(lambda: source_of("src-live") != "missing", 60, "src-live in the API", logs=(proc,))
        wait_for(lambda: source_of("src-replayed") != "missing", 60, "src-replayed in the API", logs=(proc,))
        assert source_of("src-live") == "http"
        assert source_of("src-replayed") == "replay"
        stored = json.loads(redis_client.hget(Keys(site).sensors, "src-live") or b"{}")
        assert stored["source"] == "http"  # the processor keeps it in the sensor's state
        listed = httpx.get(f"{base}/sensors", params={"q": "src-"}, timeout=10).json()
        assert {s["id"]: s["source"] for s in listed["items"]} == {"src-live": "http", "src-replayed": "replay"}
        replayed = httpx.get(f"{base}/sensors", params={"source": "replay"}, timeout=10).json()
        assert [s["id"] for s in replayed["items"]] == ["src-replayed"] and replayed["total"] == 1
        assert httpx.get(f"{base}/sensors", params={"source": "pigeon"}, timeout=10).status_code == 422
        # a source the ingest does not know is refused with a reason, and nothing of the request is stored
        refused = post("src-bogus", 12.0, **{"X-Gridwatch-Source": "carrier-pigeon"})
        assert refused.status_code == 422 and "carrier-pigeon" in refused.json()["detail"]
        # the same sensor later fed live again: its source follows its latest reading
        assert post("src-replayed", 13.0).status_code == 202
        wait_for(lambda: source_of("src-replayed") == "http", 60, "src-replayed now live", logs=(proc,))
        assert source_of("src-bogus") == "missing"
    finally:
        ingest.stop()  # a clean shutdown is test_ingest_http's concern
        proc.stop()
        api.stop()
