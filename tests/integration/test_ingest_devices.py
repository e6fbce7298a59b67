"""Sensor registry: declarations land in PostgreSQL, survive an ingest restart, and GET /api/v1/devices shows
gateways with last seen, rate, and rejected readings with why."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from gridwatch.ingest.tokens import new_token

from tests.infra.services import Postgres
from tests.utils.workloads import Workload, free_port, wait_for


def test_declared_sensors_persist_and_devices_are_listed(
    base_env: dict[str, str], postgres: Postgres, tmp_path: Path
) -> None:
    token, line = new_token("cell-9")
    (tmp_path / "tokens").write_text(line + "\n")
    port, api_port = free_port(), free_port()
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn}
    ingest_env = {
        **env,
        "GRIDWATCH_INGEST_HOST": "127.0.0.1",
        "GRIDWATCH_INGEST_PORT": str(port),
        "GRIDWATCH_INGEST_TOKENS_FILE": str(tmp_path / "tokens"),
    }
    url = f"http://127.0.0.1:{port}/api/v1/ingest/telemetry"
    auth = {"Authorization": f"Bearer {token}"}
    api = Workload(
        "api", {**env, "GRIDWATCH_API_PORT": str(api_port), "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path
    )
    api.start()
    ingest = Workload("ingest", ingest_env, tmp_path).start()
    now = int(time.time() * 1000)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, 60, "ingest", logs=(ingest,))
        declared = {
            "sensors": [{"id": "cell-9.spindle", "type": "current", "unit": "A", "machine": "lathe-2"}],
            "ts": [now - 2000],
            "values": [[12.5]],
        }
        assert httpx.post(url, json=declared, headers=auth).status_code == 202
        bad = {"ts": now - 1000, "values": {"spindle": 1e9}}
        answer = httpx.post(url, json=bad, headers=auth).json()
        assert answer["rejected"] == 1 and "plausible current range" in answer["errors"][0]["reason"]
        time.sleep(3)  # the registry writes every 2 s
        ingest.stop()
        ingest = Workload("ingest", ingest_env, tmp_path).start()
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, 60, "ingest", logs=(ingest,))
        # 'spindle' names no type: only the registry, read back at start, knows it is a current sensor
        again = httpx.post(url, json={"ts": now, "values": {"spindle": 13.0}}, headers=auth)
        assert again.status_code == 202 and again.json()["accepted"] == 1, again.text

        base = f"http://127.0.0.1:{api_port}/api/v1/devices"

        def listed() -> bool:
            page = httpx.get(base).json()
            return bool(page["items"]) and page["items"][0]["readings"] >= 1

        wait_for(listed, 60, "the gateway in GET /api/v1/devices", logs=(api, ingest))
        page = httpx.get(base).json()
        assert page["total"] == 1
        gw = page["items"][0]
        assert gw["gateway"] == "cell-9" and gw["transport"] == "http" and gw["declared_sensors"] == 1
        assert gw["rejected"] == 1 and gw["rejected_by_reason"] == {"plausible": 1}
        assert "plausible current range" in gw["last_rejection"]
        sensors = httpx.get(f"{base}/sensors", params={"gateway": "cell-9"}).json()
        assert [(s["sensor_id"], s["type"], s["unit"], s["machine"]) for s in sensors["items"]] == [
            ("cell-9.spindle", "current", "A", "lathe-2")
        ]
        assert json.dumps(httpx.get(f"{base}/sensors", params={"gateway": "nobody"}).json()["items"]) == "[]"
    finally:
        assert ingest.stop() == 0, ingest.log()[-3000:]
        api.stop()
