"""Ingest phase: batched HTTP readings/s and MQTT messages/s of one `gridwatch ingest` on one core, into real Kafka,
beside ThingsBoard's published single-node figure (15,000 data points/s on 2 vCPU with Kafka and PostgreSQL, at
95 % CPU; ThingsBoard's performance-test article). Only the ingest is measured: readings are counted once Kafka has
acknowledged them (HTTP 202 / the bridge's ack), not once the processor has scored them. `latency` adds a processor
and measures, at a paced 20,000 readings/s over HTTP, how long a reading takes from its request to its sensor's state
in Redis (target p99 < 500 ms).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
from gridwatch.common.rediskeys import Keys
from gridwatch.ingest.tokens import new_token

from tests.bench.latency import RedisProbe
from tests.bench.procs import Pinned, wait_until
from tests.bench.stack import BenchStack
from tests.bench.stats import summary_ms
from tests.bench.throughput import assigned
from tests.infra.mosquitto import Mosquitto
from tests.utils.workloads import free_port

THINGSBOARD_DATAPOINTS_PER_S = 15_000
LATENCY_RATE = 20_000  # readings/s offered over HTTP in the latency run
LATENCY_TARGET_P99_MS = 500.0
LATENCY_TICK_S = 0.2  # every sensor reads every 200 ms: 4,000 sensors for 20,000 readings/s
LATENCY_CLIENTS = 4  # one gateway batch of 1,000 sensors per client per tick
CATCH_UP_S = 60.0
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


def mqtt_load(
    broker: Mosquitto, site: str, proc: Pinned, metrics_url: str, messages: int, keys: int, publishers: int
) -> IngestRun:
    """QoS 1 messages from `publishers` concurrent `mosquitto_pub -l` (C; one message per stdin line), one gateway
    each; the clock stops when the ingest's counter shows every reading delivered to Kafka (the bridge acknowledges
    each message only after that). One publisher, sharing the other core with the broker and Kafka, can set the
    pace itself; several show what the bridge takes."""
    now_ms = int(time.time() * 1000)
    per = messages // publishers
    lines = b"".join(
        msgspec.json.encode(
            {"ts": now_ms - 3_600_000 + i, "values": {f"k{j}_{TYPES[j % 6]}": 1.0 + j for j in range(keys)}}
        )
        + b"\n"
        for i in range(per)
    )
    before = _delivered(metrics_url)
    cpu0, t0 = proc.cpu_seconds(), time.monotonic()
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-l", "-t"]
    pubs = [
        subprocess.Popen([*argv, f"gridwatch/{site}/bench-gw-{k}/telemetry"], stdin=subprocess.PIPE)
        for k in range(publishers)
    ]
    feeders = [threading.Thread(target=_feed, args=(p, lines)) for p in pubs]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    for p in pubs:
        if p.wait(600) != 0:
            raise RuntimeError(f"mosquitto_pub exited with {p.returncode}")
    total = per * publishers
    wait_until(lambda: _delivered(metrics_url) - before >= total * keys, 300, "ingest delivering MQTT readings", 0.05)
    seconds, cpu = time.monotonic() - t0, proc.cpu_seconds() - cpu0
    return _run(f"mqtt-{publishers}-gateways", total * keys, total, keys, seconds, cpu)


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.close()


def latency_load(
    stack: BenchStack, url: str, token: str, site: str, workdir: Path, warmup_s: float, window_s: float
) -> dict[str, Any]:
    """Paced HTTP load at LATENCY_RATE with a processor: per probed reading, the time from its request (its
    timestamp is the moment it is posted) to its sensor's state showing it in Redis (RedisProbe reads the probed
    sensors on every live publish). A client running late skips ticks, so the achieved rate shows the shortfall."""
    sensors = int(LATENCY_RATE * LATENCY_TICK_S)
    per = sensors // LATENCY_CLIENTS
    proc = Pinned.workload("processor", stack.env(site), workdir / f"processor-{site}.log", stack.other_cpu).start()
    client = stack.client()
    stop = threading.Event()
    posted = [0] * LATENCY_CLIENTS
    refused = [0] * LATENCY_CLIENTS
    start = time.time() + 1.0

    def poster(k: int) -> None:
        ids = [f"lat-{k * per + i:05d}-{TYPES[i % 6]}" for i in range(per)]
        decl = [{"id": sid, "type": sid.rsplit("-", 1)[1]} for sid in ids]
        # the body as a msgpack map of 3 built from pre-encoded parts: only the timestamp is encoded per request
        enc = msgspec.msgpack.encode
        head = b"\x83" + enc("sensors") + enc(decl) + enc("ts")
        tails = [enc("values") + enc([[10.0 + v] for _ in ids]) for v in range(7)]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/msgpack"}
        with httpx.Client(timeout=60, headers=headers) as http:
            tick = 0
            while not stop.is_set():
                wait = start + tick * LATENCY_TICK_S - time.time()
                if wait > 0:
                    time.sleep(wait)
                else:  # running late: post now and skip the ticks missed (the achieved rate shows the shortfall)
                    tick = int((time.time() - start) / LATENCY_TICK_S)
                sent = time.time()  # the reading's timestamp is when its request is posted
                r = http.post(url, content=head + enc([round(sent * 1000, 3)]) + tails[tick % 7])
                posted[k] += per if r.status_code == 202 else 0
                refused[k] += 0 if r.status_code == 202 else 1
                tick += 1

    threads = [threading.Thread(target=poster, args=(k,), daemon=True) for k in range(LATENCY_CLIENTS)]
    try:
        wait_until(lambda: assigned(proc) or not proc.alive(), 60, "processor assignment")
        for t in threads:
            t.start()
        wait_until(lambda: client.hlen(Keys(site).sensors) >= sensors, 120, "every latency sensor in Redis")
        probed = [f"lat-{n:05d}-{TYPES[(n % per) % 6]}" for n in range(0, sensors, max(1, sensors // 200))]
        probe = RedisProbe(stack.client(), site, probed, LATENCY_TICK_S)
        probe.thread.start()
        time.sleep(warmup_s)
        t0, n0, cpu0 = time.time(), sum(posted), proc.cpu_seconds()
        time.sleep(window_s)
        t1, n1, cpu1 = time.time(), sum(posted), proc.cpu_seconds()
        # keep the load on until every probed sensor shows a reading from the window's end (or give up after
        # CATCH_UP_S): a reading that never showed is reported as unseen, not dropped from the figures
        caught_up = _wait(lambda: min(probe.last.values(), default=0.0) >= t1 - LATENCY_TICK_S, CATCH_UP_S)
        probe.stop.set()
        probe.thread.join(5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        proc.stop()
        client.close()
    in_window = [seen - ts for ts, seen in probe.samples if t0 <= ts < t1]
    summary = summary_ms(in_window)
    expected = len(probed) * round((t1 - t0) / LATENCY_TICK_S)
    return {
        "target_rate": LATENCY_RATE,
        "achieved_rate": round((n1 - n0) / (t1 - t0), 1),
        "window_s": round(t1 - t0, 2),
        "refused_requests": sum(refused),
        "unseen_samples": max(0, expected - len(in_window)),
        "caught_up": caught_up,
        "processor_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 3),
        "redis": summary,
        "target_p99_ms": LATENCY_TARGET_P99_MS,
        "meets_target": caught_up and bool(summary["n"]) and float(summary["p99_ms"]) < LATENCY_TARGET_P99_MS,
    }


def _wait(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _delivered(metrics_url: str) -> int:
    text = httpx.get(metrics_url).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("gridwatch_ingest_readings_total{") and 'transport="mqtt"' in line
        )
    )


def measure(stack: BenchStack, workdir: Path, full: bool, latency: dict[str, Any] | None = None) -> list[IngestRun]:
    """Both transports against one ingest pinned to the measured core; with `latency`, then the ingest → Redis
    latency run (its figures are put into that dict)."""
    site = f"bench-ingest-{time.strftime('%H%M%S')}"
    broker = Mosquitto(workdir / "mosquitto").start()
    token, line = new_token("bench-gw")
    tokens = workdir / "ingest-tokens"
    tokens.write_text(line + "\n")
    for attempt in range(3):  # a port free_port() chose can be taken before the ingest binds it
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
        if _started(proc, f"{base}/readyz"):
            break
        proc.stop()
        if attempt == 2:
            raise RuntimeError(f"ingest did not start; see {workdir / 'ingest.log'}")
    try:
        url = f"{base}/api/v1/ingest/telemetry"
        requests, sensors, steps = (200, 1000, 10) if full else (8, 100, 10)
        runs = [
            http_load(url, token, proc, "msgpack", requests, sensors, steps, clients=4),
            http_load(url, token, proc, "json", requests // 2, sensors, steps, clients=4),
            mqtt_load(broker, site, proc, f"{base}/metrics", 20_000 if full else 500, keys=1, publishers=1),
            mqtt_load(broker, site, proc, f"{base}/metrics", 100_000 if full else 2_000, keys=1, publishers=4),
        ]
        if latency is not None:
            latency.update(latency_load(stack, url, token, site, workdir, 5.0 if full else 2.0, 20.0 if full else 5.0))
    finally:
        proc.stop()
        broker.stop()
    return runs


def _started(proc: Pinned, url: str) -> bool:
    """Wait up to 60 s for the ingest to answer ready; False as soon as it exits (a port taken meanwhile)."""
    wait_until(lambda: _ready(url) or not proc.alive(), 60, "ingest ready", 0.2)
    return _ready(url)


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
        figures: dict[str, Any] = {}
        results = measure(stack, Path(tmp), full="--full" in sys.argv, latency=figures)
        print(json.dumps({"runs": [asdict(r) for r in results], "latency": figures}, indent=2))
        print(
            f"ingest -> Redis p99 {figures['redis']['p99_ms']} ms at {figures['achieved_rate']:,.0f} readings/s"
            f" (target < {LATENCY_TARGET_P99_MS:g} ms at {LATENCY_RATE:,} readings/s)"
        )
