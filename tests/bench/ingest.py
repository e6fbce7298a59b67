"""Ingest phase: batched HTTP readings/s and MQTT messages/s of one `gridwatch ingest` on one core, into real Kafka,
beside ThingsBoard's published single-node figure (15,000 data points/s on 2 vCPU with Kafka and PostgreSQL, at
95 % CPU; ThingsBoard's performance-test article). Only the ingest is measured: readings are counted once Kafka has
acknowledged them (HTTP 202 / the bridge's ack), not once the processor has scored them.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
from gridwatch.ingest.tokens import new_token

from tests.bench.procs import Pinned, wait_until
from tests.bench.stack import BenchStack
from tests.infra.mosquitto import Mosquitto
from tests.utils.workloads import free_port

THINGSBOARD_DATAPOINTS_PER_S = 15_000
TYPES = ("power", "current", "voltage", "temperature", "pressure", "vibration")


@dataclass(frozen=True)
class IngestRun:
    """One load of one transport against one ingest process."""

    transport: str
    readings: int
    messages: int  # HTTP requests or MQTT messages
    readings_per_message: int
    seconds: float
    readings_per_s: float
    messages_per_s: float
    ingest_cpu_seconds: float
    ingest_cpu_share: float
    readings_per_ingest_cpu_s: float
    vs_thingsboard: float  # readings/s over ThingsBoard's 15,000 data points/s


def _body(sensors: int, steps: int, start_ms: int, encoding: str) -> bytes:
    doc = {
        "sensors": [{"id": f"bench-{i:05d}-{TYPES[i % 6]}", "type": TYPES[i % 6]} for i in range(sensors)],
        "ts": [start_ms + 1000 * j for j in range(steps)],
        "values": [[10.0 + (i + j) % 7 for j in range(steps)] for i in range(sensors)],
    }
    return msgspec.msgpack.encode(doc) if encoding == "msgpack" else msgspec.json.encode(doc)


def _run(name: str, readings: int, messages: int, per: int, seconds: float, cpu: float) -> IngestRun:
    rate = readings / seconds if seconds else 0.0
    return IngestRun(
        transport=name, readings=readings, messages=messages, readings_per_message=per, seconds=round(seconds, 3),
        readings_per_s=round(rate, 1), messages_per_s=round(messages / seconds if seconds else 0.0, 1),
        ingest_cpu_seconds=round(cpu, 3), ingest_cpu_share=round(cpu / seconds if seconds else 0.0, 3),
        readings_per_ingest_cpu_s=round(readings / cpu if cpu else 0.0, 1),
        vs_thingsboard=round(rate / THINGSBOARD_DATAPOINTS_PER_S, 2),
    )  # fmt: skip


def http_load(
    url: str, token: str, proc: Pinned, encoding: str, requests: int, sensors: int, steps: int, clients: int
) -> IngestRun:
    """`clients` threads posting pre-encoded gateway batches; counts what came back 202."""
    body = _body(sensors, steps, int((time.time() - 3600) * 1000), encoding)
    ctype = "application/msgpack" if encoding == "msgpack" else "application/json"
    accepted = [0] * clients
    per_client = requests // clients

    def client(k: int) -> None:
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype}) as http:
            for _ in range(per_client):
                r = http.post(url, content=body)
                if r.status_code == 202:
                    accepted[k] += int(r.json()["accepted"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    cpu0, t0 = proc.cpu_seconds(), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds, cpu = time.monotonic() - t0, proc.cpu_seconds() - cpu0
    return _run(f"http-batch-{encoding}", sum(accepted), per_client * clients, sensors * steps, seconds, cpu)


def mqtt_load(broker: Mosquitto, site: str, proc: Pinned, metrics_url: str, messages: int, keys: int) -> IngestRun:
    """QoS 1 messages from `mosquitto_pub -l` (C; one message per stdin line); the clock stops when the ingest's
    counter shows every reading delivered to Kafka (the bridge acknowledges each message only after that)."""
    now_ms = int(time.time() * 1000)
    lines = b"".join(
        msgspec.json.encode(
            {"ts": now_ms - 3_600_000 + i, "values": {f"k{j}_{TYPES[j % 6]}": 1.0 + j for j in range(keys)}}
        )
        + b"\n"
        for i in range(messages)
    )
    topic = f"gridwatch/{site}/bench-gw/telemetry"
    before = _delivered(metrics_url)
    cpu0, t0 = proc.cpu_seconds(), time.monotonic()
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic, "-l"],
        input=lines, check=True, timeout=600,
    )  # fmt: skip
    wait_until(lambda: _delivered(metrics_url) - before >= messages * keys, 300, "ingest delivering MQTT readings", 0.2)
    seconds, cpu = time.monotonic() - t0, proc.cpu_seconds() - cpu0
    return _run("mqtt", messages * keys, messages, keys, seconds, cpu)


def _delivered(metrics_url: str) -> int:
    text = httpx.get(metrics_url).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("gridwatch_ingest_readings_total{") and 'transport="mqtt"' in line
        )
    )


def measure(stack: BenchStack, workdir: Path, full: bool) -> list[IngestRun]:
    """Both transports against one ingest pinned to the measured core."""
    site = f"bench-ingest-{time.strftime('%H%M%S')}"
    broker = Mosquitto(workdir / "mosquitto").start()
    token, line = new_token("bench-gw")
    tokens = workdir / "ingest-tokens"
    tokens.write_text(line + "\n")
    port, metrics_port = free_port(), free_port()
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_KAFKA_BOOTSTRAP": stack.kafka.bootstrap,
        "GRIDWATCH_INGEST_HOST": "127.0.0.1",
        "GRIDWATCH_INGEST_PORT": str(port),
        "GRIDWATCH_INGEST_TOKENS_FILE": str(tokens),
        "GRIDWATCH_INGEST_MQTT_ENABLED": "true",
        "GRIDWATCH_INGEST_MQTT_HOST": "127.0.0.1",
        "GRIDWATCH_INGEST_MQTT_PORT": str(broker.port),
        "GRIDWATCH_INGEST_MAX_INFLIGHT_MESSAGES": "20000",
        "GRIDWATCH_METRICS_PORT": str(metrics_port),
        "GRIDWATCH_LOG_LEVEL": "WARNING",
    }
    proc = Pinned.workload("ingest", env, workdir / "ingest.log", stack.measured_cpu).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(f"{base}/readyz"), 60, "ingest ready", 0.2)
        url = f"{base}/api/v1/ingest/telemetry"
        requests, sensors, steps = (200, 1000, 10) if full else (8, 100, 10)
        runs = [
            http_load(url, token, proc, "msgpack", requests, sensors, steps, clients=4),
            http_load(url, token, proc, "json", requests // 2, sensors, steps, clients=4),
            mqtt_load(broker, site, proc, f"{base}/metrics", 20_000 if full else 500, keys=1),
        ]
    finally:
        proc.stop()
        broker.stop()
    return runs


def _ready(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    import json
    import sys
    import tempfile
    from dataclasses import asdict

    with tempfile.TemporaryDirectory() as tmp, BenchStack(Path(tmp)) as stack:
        results = measure(stack, Path(tmp), full="--full" in sys.argv)
        print(json.dumps([asdict(r) for r in results], indent=2))
