"""Hot reload under load on real Kafka, Redis and PostgreSQL: the trainer promotes a detector while a processor
scores a steady simulated stream; a tampered version is refused (the old one keeps serving); a good one is swapped
in; and every reading that went in came out exactly once."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
import redis
from confluent_kafka import Consumer
from gridwatch.common import registry
from gridwatch.common.db.migrate import connect
from gridwatch.common.rediskeys import Keys
from gridwatch.common.registry import ModelKind
from gridwatch.common.schema import EnrichedBatch, ReadingBatch, decode

from tests.infra.services import Kafka, Postgres
from tests.utils import model_history
from tests.utils.cli import gridwatch
from tests.utils.workloads import Workload, free_port, wait_for

pytestmark = pytest.mark.integration


def metric(port: int, name: str) -> float | None:
    """The value of the one sample of `name` on a /metrics page (None while absent)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M)
    return None if found is None else float(found.group(1))


def readings_in_redis(client: redis.Redis, site: str) -> int:
    return int(client.hget(Keys(site).aggregates, "readings_total") or 0)


def drain(kafka: Kafka, topic: str, raw: bool = False) -> list[object]:
    """Every message of a topic (decoded unless `raw`), until it has been quiet for a few seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"check-{time.time()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[object] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < 5.0:
            msgs = consumer.consume(1000, 1.0)
            for msg in msgs:
                if not msg.error():
                    out.append(msg.value() if raw else decode(msg.value() or b""))
            if msgs:
                quiet_since = time.monotonic()
    finally:
        consumer.close()
    return out


def test_processor_hot_reloads_promoted_detectors_under_load_without_losing_a_reading(
    base_env: dict[str, str],
    postgres: Postgres,
    kafka: Kafka,
    redis_client: redis.Redis,
    site: str,
    tmp_path: Path,
) -> None:
    model_history.seed(postgres.dsn, site, time.time())
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_TRAIN_DETECTOR_HOURS": str(9 * 24),
    }
    port = free_port()
    proc = Workload(
        "processor",
        {
            **env,
            # no GRIDWATCH_PROC_FOREST: by default a processor with a registry serves the promoted detector
            "GRIDWATCH_PROC_MODEL_POLL_S": "30",
            "GRIDWATCH_METRICS_PORT": str(port),
        },
        tmp_path,
    ).start()
    sim = Workload(
        "simulator",
        {
            **env,
            "GRIDWATCH_SIM_SENSORS": "200",
            "GRIDWATCH_SIM_RATE": "2000",
            "GRIDWATCH_METRICS_PORT": str(free_port()),
        },
        tmp_path,
    )
    try:
        wait_for(lambda: metric(port, "gridwatch_processor_model_version") == 0, 180, "processor up", logs=(proc,))
        sim.start()
        wait_for(lambda: readings_in_redis(redis_client, site) > 0, 60, "readings scored", logs=(sim, proc))

        trained = gridwatch(env, "train", "--model", "detector")
        assert "detector version 1: promoted" in trained.stdout, trained.stdout + trained.stderr
        wait_for(lambda: metric(port, "gridwatch_processor_model_version") == 1, 60, "v1 swapped in", logs=(proc,))
        before = readings_in_redis(redis_client, site)

        with connect(postgres.dsn, "test") as conn:
            blob, _ = registry.artifact_of(conn, site, ModelKind.DETECTOR, 1)
            good = registry.get(conn, site, ModelKind.DETECTOR, 1)

            def register() -> int:
                return registry.register(
                    conn,
                    site,
                    ModelKind.DETECTOR,
                    algorithm=good.algorithm,
                    window=(good.window_start, good.window_end),
                    features=good.features,
                    metrics=good.metrics,
                    artifact=blob,
                    created_by="test",
                ).version

            tampered = register()
            conn.execute(  # one byte of the stored artifact flipped after registration
                "UPDATE gw_models SET artifact = set_byte(artifact, 100, get_byte(artifact, 100) # 255) "
                "WHERE site = %s AND kind = 'detector' AND version = %s",
                (site, tampered),
            )
        out = gridwatch(env, "models", "promote", "detector", str(tampered))
        assert out.returncode == 0, out.stderr
        wait_for(
            lambda: metric(port, "gridwatch_processor_model_load_failures_total") == 1, 60, "refused", logs=(proc,)
        )
        assert metric(port, "gridwatch_processor_model_version") == 1  # still serving v1
        assert "promoted model failed to load; keeping the current one" in proc.log()
        assert "checksum mismatch" in proc.log()
        running = json.loads(redis_client.hget(registry.running_key(site), _replica(redis_client, site)) or b"{}")
        assert running["version"] == 1 and running["failed_version"] == tampered and "checksum" in running["error"]

        with connect(postgres.dsn, "test") as conn:
            fixed = register()
        out = gridwatch(env, "models", "promote", "detector", str(fixed))
        assert out.returncode == 0, out.stderr
        wait_for(lambda: metric(port, "gridwatch_processor_model_version") == fixed, 60, "v3 in", logs=(proc,))
        assert readings_in_redis(redis_client, site) > before, "the processor kept scoring through the reloads"
        # enough of a stream for the count check below to mean something (three reloads can take under 5 s)
        wait_for(lambda: readings_in_redis(redis_client, site) > 10_000, 60, "10,000 readings", logs=(sim, proc))
        assert proc.alive(), proc.log()[-3000:]
    finally:
        sim.stop()

    # count in == count out: every reading published to <site>.readings was scored, stored and enriched once
    sent = sum(len(m.sensor_ids) for m in drain(kafka, f"{site}.readings") if isinstance(m, ReadingBatch))
    try:
        wait_for(lambda: readings_in_redis(redis_client, site) == sent, 120, f"{sent} readings in Redis", logs=(proc,))
        enriched = [m for m in drain(kafka, f"{site}.enriched") if isinstance(m, EnrichedBatch)]
        pairs = [(s, t) for b in enriched for s, t in zip(b.sensor_ids, b.ts, strict=True)]
        assert sent > 10_000
        assert len(pairs) == sent and len(set(pairs)) == sent
        assert drain(kafka, f"{site}.dlq", raw=True) == []
        running = json.loads(redis_client.hget(registry.running_key(site), _replica(redis_client, site)) or b"{}")
        assert running["version"] == fixed and running["failed_version"] is None
    finally:
        code = proc.stop()
    assert code == 0, proc.log()[-3000:]


def _replica(client: redis.Redis, site: str) -> str:
    names = [n.decode() for n in client.hkeys(registry.running_key(site))]  # type: ignore[union-attr]
    assert len(names) == 1 and names[0].startswith("processor@"), names
    return names[0]
