"""`gridwatch replay` of a NAB development file through the real ingest, Kafka and processor into Redis."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis
from gridwatch.common.rediskeys import Keys
from gridwatch.ingest.tokens import new_token

from tests.utils.workloads import Workload, free_port, wait_for

NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab-dev" / "data"
FILE = NAB / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"


@pytest.mark.skipif(not FILE.is_file(), reason=f"{FILE} not present")
def test_replay_of_a_nab_file_lands_every_reading_once(
    base_env: dict[str, str], redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    with FILE.open() as handle:
        expected = sum(1 for row in csv.DictReader(handle) if row["value"].strip())
    token, line = new_token("replay")
    (tmp_path / "tokens").write_text(line + "\n")
    port = free_port()
    ingest = Workload(
        "ingest",
        {
            **base_env,
            "GRIDWATCH_INGEST_HOST": "127.0.0.1",
            "GRIDWATCH_INGEST_PORT": str(port),
            "GRIDWATCH_INGEST_TOKENS_FILE": str(tmp_path / "tokens"),
        },
        tmp_path,
    )
    proc = Workload("processor", {**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    (tmp_path / "map.json").write_text(json.dumps({FILE.stem: {"id": "aws-cpu", "type": "power", "machine": "ec2"}}))
    proc.start()
    ingest.start()
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, 60, "ingest", logs=(ingest,))
        # 14 days of 5-minute readings at 60x span under 6 hours: inside the processor's 7-day window
        done = subprocess.run(
            [sys.executable, "-m", "gridwatch.cli", "replay", str(FILE), "--speed", "60x", "--as-fast-as-possible",
             "--sensor-map", str(tmp_path / "map.json"), "--url", f"http://127.0.0.1:{port}", "--token", token],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"replayed {expected} readings" in done.stderr and "0 refused" in done.stderr
        wait_for(
            lambda: (
                json.loads(redis_client.hget(Keys(site).sensors, "aws-cpu") or b'{"readings": 0}')["readings"]
                >= expected
            ),
            90,
            f"{expected} readings of aws-cpu",
            logs=(proc,),
        )
        state = json.loads(redis_client.hget(Keys(site).sensors, "aws-cpu") or b"{}")
        assert state["readings"] == expected
        assert state["source"] == "replay"  # `gridwatch replay` says so; the API and UI show it
        assert int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) == expected
        bad = subprocess.run(
            [sys.executable, "-m", "gridwatch.cli", "replay", str(FILE), "--speed", "1x", "--as-fast-as-possible",
             "--url", f"http://127.0.0.1:{port}", "--token", token],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert bad.returncode == 2 and "raise --speed" in bad.stderr
    finally:
        assert ingest.stop() == 0, ingest.log()[-3000:]
        proc.stop()
