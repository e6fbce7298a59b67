"""HTTP ingest -> Kafka -> processor -> Redis on real servers: exactly once, every bad input's answer, Kafka stalls."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
import redis
from confluent_kafka import Consumer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import ReadingBatch, decode
from gridwatch.ingest.tokens import new_token

from tests.infra.services import Kafka
from tests.utils.workloads import Workload, free_port, wait_for

TYPES = ("power", "current", "voltage", "temperature", "pressure", "vibration")
VALUES = {"power": 40.0, "current": 60.0, "voltage": 400.0, "temperature": 55.0, "pressure": 6.0, "vibration": 2.0}


def readings_in_redis(client: redis.Redis, site: str) -> int:
    return int(client.hget(Keys(site).aggregates, "readings_total") or 0)


def per_sensor(client: redis.Redis, site: str) -> dict[str, int]:
    raw: dict[bytes, bytes] = client.hgetall(Keys(site).sensors)  # type: ignore[assignment]
    return {k.decode(): int(json.loads(v)["readings"]) for k, v in raw.items()}


def drain(kafka: Kafka, topic: str, until: int, settle: float = 3.0) -> list[tuple[bytes, dict[str, bytes]]]:
    """Every message of a topic: read until `until` messages arrived, then `settle` more seconds to catch extras."""
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"check-{time.time()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + 60
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline and (quiet_until is None or time.monotonic() < quiet_until):
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                headers: list[tuple[str, bytes]] = msg.headers() or []  # type: ignore[assignment]
                out.append((msg.value() or b"", {k: v or b"" for k, v in headers}))
            if quiet_until is None and len(out) >= until:
                quiet_until = time.monotonic() + settle
    finally:
        consumer.close()
    return out


class Ingest:
    """A running `gridwatch ingest` with its tokens file."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.port = free_port()
        self.tokens_path = tmp_path / "tokens"
        self.tokens: dict[str, str] = {}
        lines = []
        for gw in ("gw-a", "gw-b", "gw-c"):
            token, line = new_token(gw)
            self.tokens[gw] = token
            lines.append(line)
        self.tokens_path.write_text("\n".join(lines) + "\n")
        self.workload = Workload(
            "ingest",
            {
                **env,
                "GRIDWATCH_INGEST_PORT": str(self.port),
                "GRIDWATCH_INGEST_HOST": "127.0.0.1",
                "GRIDWATCH_INGEST_TOKENS_FILE": str(self.tokens_path),
                "GRIDWATCH_INGEST_ACK_TIMEOUT_S": "3",
                "GRIDWATCH_INGEST_MAX_BODY_BYTES": str(1024 * 1024),
                "GRIDWATCH_INGEST_HEARTBEAT_INTERVAL_S": "1",
            },
            tmp_path,
        )
        self.url = f"http://127.0.0.1:{self.port}/api/v1/ingest/telemetry"

    def post(
        self, gateway: str | None, body: bytes, ctype: str = "application/json", token: str | None = None
    ) -> httpx.Response:
        headers = {"Content-Type": ctype}
        if gateway is not None or token is not None:
            headers["Authorization"] = f"Bearer {token or self.tokens[gateway or '']}"
        return httpx.post(self.url, content=body, headers=headers, timeout=60)


@pytest.fixture
def stack(base_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Ingest, Workload]]:
    ingest = Ingest({**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    proc = Workload("processor", {**base_env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    proc.start()
    ingest.workload.start()
    try:
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{ingest.port}/readyz").status_code == 200,
            60,
            "ingest ready",
            logs=(ingest.workload,),
        )
        yield ingest, proc
    finally:
        assert ingest.workload.stop() == 0, ingest.workload.log()[-3000:]
        proc.stop()


def sensors(prefix: str, n: int) -> list[dict[str, str]]:
    return [
        {"id": f"{prefix}-{i:03d}-{TYPES[i % 6]}", "type": TYPES[i % 6], "machine": f"{prefix}-m{i // 6}"}
        for i in range(n)
    ]


def matrix(decls: list[dict[str, str]], ts: list[int]) -> list[list[float]]:
    return [[VALUES[d["type"]] + (j % 7) * 0.1 for j in range(len(ts))] for d in decls]


def test_ten_thousand_readings_arrive_exactly_once_and_bad_input_is_answered(
    stack: tuple[Ingest, Workload], kafka: Kafka, redis_client: redis.Redis, site: str
) -> None:
    ingest, proc = stack
    t0 = int((time.time() - 3600) * 1000)
    stamps = [t0 + 1000 * j for j in range(100)]
    a, b = sensors("a", 50), sensors("b", 25)
    for k in range(5):  # gw-a: JSON batches, 50 sensors x 20 timestamps
        part = stamps[20 * k : 20 * (k + 1)]
        r = ingest.post("gw-a", json.dumps({"sensors": a, "ts": part, "values": matrix(a, part)}).encode())
        assert r.status_code == 202 and r.json()["accepted"] == 1000, r.text
    for k in range(2):  # gw-b: msgpack batches, 25 sensors x 50 timestamps
        part = stamps[50 * k : 50 * (k + 1)]
        body = msgspec.msgpack.encode({"sensors": b, "ts": part, "values": matrix(b, part)})
        r = ingest.post("gw-b", body, "application/msgpack")
        assert r.status_code == 202 and r.json()["accepted"] == 1250, r.text
    keys = [f"k{i:02d}_{TYPES[i % 6]}" for i in range(25)]
    for k in range(4):  # gw-c: ThingsBoard lists, 25 keys x 25 timestamps
        items = [
            {"ts": t, "values": {key: VALUES[key.split("_")[1]] for key in keys}} for t in stamps[25 * k : 25 * (k + 1)]
        ]
        r = ingest.post("gw-c", json.dumps(items).encode())
        assert r.status_code == 202 and r.json()["accepted"] == 625, r.text

    wait_for(lambda: readings_in_redis(redis_client, site) >= 10_000, 90, "10,000 readings in Redis", logs=(proc,))
    counts = per_sensor(redis_client, site)
    assert len(counts) == 100 and set(counts.values()) == {100}, counts
    assert "gw-c.k00_power" in counts
    batches = [decode(v) for v, _ in drain(kafka, f"{site}.readings", until=11)]
    readings = [r for r in batches if isinstance(r, ReadingBatch)]
    assert sum(len(r.ts) for r in readings) == 10_000, "every reading is on the topic exactly once"
    assert {r.gateway for r in readings} == {"gw-a", "gw-b", "gw-c"}
    beats: list[bytes] = redis_client.hkeys(Keys(site).producers)  # type: ignore[assignment]
    producers = {k.decode() for k in beats}
    assert {"gw-a", "gw-b", "gw-c"} <= producers, "heartbeats per gateway reach producer status"

    # bad input: every case gets its answer and, past authentication, a DLQ record naming the reason and origin
    good = json.dumps({"ts": stamps[-1] + 1000, "values": {"power": 1.0}}).encode()
    assert ingest.post(None, good).status_code == 401
    assert ingest.post(None, good, token="not-a-token").status_code == 403
    big = ingest.post("gw-a", b"[" + b"1," * 600_000 + b"1]")
    assert big.status_code == 413
    bad = ingest.post(
        "gw-a",
        json.dumps([{"ts": stamps[-1], "values": {"power": 1}}, {"ts": stamps[-1], "values": {"power": "x"}}]).encode(),
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["loc"] == "$[1].values.power"
    unknown = ingest.post("gw-a", json.dumps({"ts": stamps[-1], "values": {"humidity": 40}}).encode())
    assert unknown.status_code == 422 and "no known type" in unknown.json()["errors"][0]["reason"]
    garbage = ingest.post("gw-b", b"\xc1\xc1", "application/msgpack")
    assert garbage.status_code == 422 and "msgpack" in garbage.json()["detail"]
    partial = ingest.post(
        "gw-c", json.dumps({"ts": stamps[-1] + 1000, "values": {"k00_power": 5.0, "k03_temperature": 1e300}}).encode()
    )
    assert partial.status_code == 202, partial.text
    assert partial.json()["accepted"] == 1 and partial.json()["rejected"] == 1
    assert "plausible temperature range" in partial.json()["errors"][0]["reason"]

    dlq = drain(kafka, f"{site}.dlq", until=4)
    reasons = {
        (h["gridwatch.dlq.gateway"], h["gridwatch.dlq.transport"], h["gridwatch.dlq.reason"].decode()) for _, h in dlq
    }
    assert any(g == b"gw-a" and t == b"http" and "$[1].values.power" in r for g, t, r in reasons), reasons
    assert any(g == b"gw-a" and "no known type" in r for g, _, r in reasons), reasons
    assert any(g == b"gw-b" and "msgpack" in r for g, _, r in reasons), reasons
    refused = [json.loads(v) for v, h in dlq if h["gridwatch.dlq.gateway"] == b"gw-c"]
    assert refused and refused[0]["readings"][0]["sensor"] == "gw-c.k03_temperature"
    wait_for(lambda: readings_in_redis(redis_client, site) == 10_001, 30, "the partial request's good reading")


def test_kafka_stall_gives_429_then_recovers_and_tokens_rotate(
    stack: tuple[Ingest, Workload], kafka: Kafka, redis_client: redis.Redis, site: str
) -> None:
    ingest, _ = stack
    t0 = int((time.time() - 600) * 1000)
    decls = sensors("s", 10)

    def request(k: int) -> bytes:
        part = [t0 + 1000 * (10 * k + j) for j in range(10)]
        return json.dumps({"sensors": decls, "ts": part, "values": matrix(decls, part)}).encode()

    assert ingest.post("gw-a", request(0)).status_code == 202
    assert kafka.pid is not None
    os.kill(kafka.pid, signal.SIGSTOP)
    try:
        answers = [ingest.post("gw-a", request(k)) for k in (1, 2)]
    finally:
        os.kill(kafka.pid, signal.SIGCONT)
    assert all(r.status_code == 429 for r in answers), [r.text for r in answers]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers)

    def retried(k: int) -> bool:
        return ingest.post("gw-a", request(k)).status_code == 202

    # a client retries what got 429: a retry of readings that did reach Kafka is skipped by the processor
    wait_for(lambda: retried(1), 60, "ingest accepting again after the stall", interval=1, logs=(ingest.workload,))
    assert retried(2) and retried(3)
    wait_for(lambda: readings_in_redis(redis_client, site) >= 400, 90, "400 readings in Redis")
    time.sleep(2)
    assert readings_in_redis(redis_client, site) == 400
    assert set(per_sensor(redis_client, site).values()) == {40}

    # rotation: a new tokens file takes effect without a restart
    token, line = new_token("gw-a")
    ingest.tokens_path.write_text(line + "\n")
    wait_for(lambda: ingest.post(None, request(4), token=token).status_code == 202, 10, "the rotated token accepted")
    assert ingest.post("gw-a", request(5)).status_code == 403
