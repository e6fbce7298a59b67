"""docs/devices.md's curl and mosquitto_pub examples, run verbatim, and a Go gateway, end to end into Redis."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import redis
from gridwatch.common.rediskeys import Keys
from gridwatch.ingest.tokens import new_token

from tests.infra.mosquitto import Mosquitto
from tests.utils.workloads import Workload, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "devices.md"
GO_PRODUCER = ROOT / "tests" / "contract" / "goproducer"


def examples() -> list[str]:
    """Every ```bash block of the page, in order."""
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def go() -> str | None:
    return shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)


def readings(client: redis.Redis, site: str, sensor: str) -> int:
    raw = client.hget(Keys(site).sensors, sensor)
    return int(json.loads(raw)["readings"]) if raw else 0


def test_documented_examples_and_a_go_gateway_reach_redis(
    base_env: dict[str, str], redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    blocks = examples()
    assert sum("curl " in b for b in blocks) >= 3 and sum("mosquitto_pub " in b for b in blocks) >= 1
    broker = Mosquitto(tmp_path / "mosquitto").start()
    token, line = new_token("press-7")
    go_token, go_line = new_token("go-gw")
    (tmp_path / "tokens").write_text(f"{line}\n{go_line}\n")
    port = free_port()
    ingest = Workload(
        "ingest",
        {
            **base_env,
            **broker.env(),
            "GRIDWATCH_INGEST_HOST": "127.0.0.1",
            "GRIDWATCH_INGEST_PORT": str(port),
            "GRIDWATCH_INGEST_TOKENS_FILE": str(tmp_path / "tokens"),
            "GRIDWATCH_INGEST_MQTT_ENABLED": "true",
        },
        tmp_path,
    )
    proc = Workload("processor", {**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    proc.start()
    ingest.start()
    try:
        wait_for(lambda: "MQTT connected" in ingest.log(), 60, "ingest with its MQTT bridge", logs=(ingest,))
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, 60, "ingest ready")
        env = {
            **os.environ,
            "INGEST": f"http://127.0.0.1:{port}",
            "TOKEN": token,
            "SITE": site,
            "MQTT_HOST": "127.0.0.1",
            "MQTT_PORT": str(broker.port),
        }
        for block in blocks:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        expected = {
            "press-7.oil_temperature": 1,
            "press-7.power": 1,
            "press-7.spindle_current": 2,
            "press-7.hydraulic": 2,
            "press-7.motor_vibration": 1,
        }
        wait_for(
            lambda: all(readings(redis_client, site, s) >= n for s, n in expected.items()),
            60,
            f"the examples' readings in Redis: {expected}",
            logs=(ingest, proc),
        )
        assert {s: readings(redis_client, site, s) for s in expected} == expected

        toolchain = go()
        if toolchain is None:
            pytest.skip("no Go toolchain: the Go gateway part needs `go`")
        binary = tmp_path / "goproducer"
        build = subprocess.run(
            [toolchain, "build", "-o", str(binary), "."], cwd=GO_PRODUCER, capture_output=True, text=True, timeout=300,
            env={**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off"}, check=False,
        )  # fmt: skip
        assert build.returncode == 0, build.stderr
        sent = subprocess.run(
            [str(binary)],
            env={**os.environ, "INGEST_URL": env["INGEST"], "TOKEN": go_token, "SENSORS": "20", "STEPS": "50"},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert sent.returncode == 0 and '"accepted":1000' in sent.stdout, sent.stdout + sent.stderr
        wait_for(
            lambda: all(
                readings(redis_client, site, f"go-{i:02d}-{t}") == 50
                for i, t in zip(
                    range(20), ["power", "current", "voltage", "temperature", "pressure", "vibration"] * 4, strict=False
                )
            ),
            60,
            "the Go gateway's 1000 readings scored",
            logs=(proc,),
        )
    finally:
        assert ingest.stop() == 0, ingest.log()[-3000:]
        proc.stop()
        broker.stop()
