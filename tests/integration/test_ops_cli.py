"""`gridwatch check` and `gridwatch dlq inspect|replay` against real Kafka, Redis, PostgreSQL and a real processor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import ReadingBatch, SensorType, encode

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, free_port, wait_for

GRIDWATCH = [sys.executable, "-m", "gridwatch.cli"]


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GRIDWATCH, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_check_reports_each_dependency_and_fails_on_the_unreachable_one(
    base_env: dict[str, str], postgres: Postgres
) -> None:
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn}
    ok = cli(env, "check", "--json")
    assert ok.returncode == 0, ok.stderr
    probes = {p["component"]: p for p in json.loads(ok.stdout)}
    assert set(probes) == {"kafka", "redis", "postgres"}
    assert all(p["ok"] and p["latency_ms"] > 0 for p in probes.values()), probes
    assert "broker(s)" in probes["kafka"]["detail"] and probes["redis"]["detail"].startswith("redis ")
    assert "postgres" in probes["postgres"]["detail"]
    closed = free_port()
    down = cli({**env, "GRIDWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed}"}, "check", "--timeout", "2")
    assert down.returncode == 1
    assert "FAILED" in down.stdout and f"127.0.0.1:{closed}" in down.stdout
    wrong = cli({**env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn.replace("/gridwatch", "/no_such_db")}, "check", "--json")
    assert wrong.returncode == 1
    bad = {p["component"]: p for p in json.loads(wrong.stdout)}
    assert bad["kafka"]["ok"] and bad["redis"]["ok"] and not bad["postgres"]["ok"]
    assert "no_such_db" in bad["postgres"]["detail"]


def test_a_dead_letter_is_inspected_fixed_and_replayed_into_the_processor(
    base_env: dict[str, str], kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    proc = Workload("processor", {**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path).start()
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    sensor = "replayed-1"
    bad = ReadingBatch(
        schema_version=1,
        site=site,
        gateway="gw-ops",
        seq=0,
        sensor_ids=[sensor],
        machines=["m1"],
        types=[SensorType.POWER],
        ts=[time.time() + 86_400],  # a gateway clock a day ahead: refused
        values=[12.5],
    )
    try:
        producer.produce(f"{site}.readings", encode(bad), key=sensor.encode())
        assert producer.flush(30) == 0

        def letters() -> list[dict[str, object]]:
            out = cli(base_env, "dlq", "inspect", "--json")
            if out.returncode != 0:  # e.g. before the processor has created the DLQ topic
                raise ValueError(out.stderr)
            return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

        found: list[dict[str, object]] = []

        def dead_lettered() -> bool:
            found[:] = letters()
            return len(found) == 1

        wait_for(dead_lettered, 60, "the processor dead-letters the batch", logs=(proc,))
        (letter,) = found
        assert str(letter["reason"]).startswith("timestamp out of range"), letter
        assert letter["origin_topic"] == f"{site}.readings" and letter["encoding"] == "msgpack"
        table = cli(base_env, "dlq", "inspect", "--reason", "timestamp")
        assert table.returncode == 0 and "1 letter(s)" in table.stdout and "timestamp out of range" in table.stdout
        assert "0 letter(s)" in cli(base_env, "dlq", "inspect", "--reason", "no-such-reason").stdout

        dry = cli(base_env, "dlq", "replay", "--offset", str(letter["dlq"]), "--dry-run")
        assert dry.returncode == 0 and "would re-publish" in dry.stdout, dry.stderr
        missing = cli(base_env, "dlq", "replay", "--offset", "0:999999")
        assert missing.returncode == 1 and "no dead letter at 0:999999" in missing.stderr

        payload = letter["payload"]
        assert isinstance(payload, dict)
        payload["ts"] = [time.time()]  # the fix: the reading's real time
        fixed = tmp_path / "fixed.jsonl"
        fixed.write_text(json.dumps(letter) + "\n")
        replay = cli(base_env, "dlq", "replay", "--from-file", str(fixed))
        assert replay.returncode == 0 and "re-published 1 message(s)" in replay.stdout, replay.stderr

        wait_for(
            lambda: redis_client.hexists(Keys(site).sensors, sensor), 60, "the fixed reading in Redis", logs=(proc,)
        )
        assert len(letters()) == 1, "the fixed letter must not be dead-lettered again"

        consumer = Consumer(
            {"bootstrap.servers": kafka.bootstrap, "group.id": f"ops-{site}", "auto.offset.reset": "earliest"}
        )
        consumer.subscribe([f"{site}.readings"])
        seen: list[dict[str, bytes]] = []
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.extend(dict(m.headers() or []) for m in consumer.consume(10, 1.0) if not m.error())  # type: ignore[arg-type]
        consumer.close()
        assert len(seen) == 2
        assert seen[1]["gridwatch.replayed-from"] == f"{site}.dlq:{letter['dlq']}".encode()
        assert proc.alive()
    finally:
        proc.stop()
