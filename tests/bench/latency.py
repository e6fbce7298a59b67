"""End-to-end latency at a steady paced load: reading timestamp → visible in Redis and over the WebSocket."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import msgspec
import redis
from gridwatch.common.rediskeys import Keys
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.bench.procs import Pinned, wait_until
from tests.bench.stack import BenchStack
from tests.bench.stats import summary_ms
from tests.bench.throughput import assigned, readings_total
from tests.utils.workloads import free_port

SAMPLE_INTERVAL_MS = 200
WS_INTERVAL_S = 0.5
PROBES = 200


@dataclass
class Latency:
    """Latency figures at one offered rate."""

    target_rate: int
    sensors: int
    achieved_rate: float
    window_s: float
    processor_cpu_share: float
    redis: dict[str, float | int] = field(default_factory=dict)
    websocket: dict[str, float | int] = field(default_factory=dict)
    ws_update_interval_s: float = WS_INTERVAL_S


class RedisProbe:
    """Watches a sample of sensors: on every live publish, reads their state and notes when a new reading shows."""

    def __init__(self, client: redis.Redis, site: str, ids: list[str], tick_s: float) -> None:
        self.client = client
        self.keys = Keys(site)
        self.ids = ids
        self.tick_s = tick_s
        self.last: dict[str, float] = {}
        self.samples: list[tuple[float, float]] = []  # (reading ts, seen at)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="redis-probe", daemon=True)

    def _check(self) -> None:
        raw = self.client.hmget(self.keys.sensors, self.ids)
        seen = time.time()
        for sid, blob in zip(self.ids, raw, strict=True):
            if blob is None:
                continue
            ts = float(msgspec.json.decode(blob)["ts"])
            prev = self.last.get(sid)
            if prev is not None and ts > prev:
                # readings of ticks in between were superseded before anyone could see them: they count as
                # visible now, which is when their effect (the newer state) became readable
                gap = round((ts - prev) / self.tick_s)
                for k in range(1, gap):
                    self.samples.append((prev + k * self.tick_s, seen))
                self.samples.append((ts, seen))
            if prev is None or ts > prev:
                self.last[sid] = ts

    def _run(self) -> None:
        pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
        pubsub.subscribe(self.keys.channel)
        try:
            while not self.stop.is_set():
                message = pubsub.get_message(timeout=0.1)
                if message is None or message.get("type") == "message":
                    self._check()
        finally:
            pubsub.close()


class WsProbe:
    """One WebSocket client noting, for every update, when it arrived and the newest reading it reflects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.updates: list[tuple[float, float]] = []  # (received at, stats.last_reading_ts)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ws-probe", daemon=True)

    def _run(self) -> None:
        with connect(self.url, max_size=None) as ws:
            while not self.stop.is_set():
                try:
                    data = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                at = time.time()
                msg: dict[str, Any] = msgspec.json.decode(data)
                last = (msg.get("stats") or {}).get("last_reading_ts")
                if msg.get("type") == "update" and last:
                    self.updates.append((at, float(last)))


def ws_samples(ticks: list[float], updates: list[tuple[float, float]]) -> list[float]:
    """Per tick: first update that reflects it (last_reading_ts ≥ tick) minus the tick's timestamp."""
    out: list[float] = []
    updates = sorted(updates)
    for t in sorted(ticks):
        for at, last in updates:
            if last >= t - 1e-6 and at >= t:
                out.append(at - t)
                break
    return out


def measure(
    stack: BenchStack, rate: int, logdir: Path, warmup_s: float, window_s: float, probes: int = PROBES
) -> Latency:
    """Run simulator → processor → Redis → API at `rate` readings/s and measure latency over a window."""
    sensors = max(1, rate * SAMPLE_INTERVAL_MS // 1000)
    site = f"lat-{rate}-{time.time_ns() % 10**6}"
    env = stack.env(site)
    api_port = free_port()
    proc = Pinned.workload("processor", env, logdir / f"processor-{site}.log", stack.measured_cpu)
    api = Pinned.workload(
        "api",
        {**env, "GRIDWATCH_API_PORT": str(api_port), "GRIDWATCH_API_WS_UPDATE_INTERVAL_S": str(WS_INTERVAL_S)},
        logdir / f"api-{site}.log",
        stack.other_cpu,
    )
    sim_env = {
        **env,
        "GRIDWATCH_SIM_SENSORS": str(sensors),
        "GRIDWATCH_SIM_SAMPLE_INTERVAL_MS": str(SAMPLE_INTERVAL_MS),
        "GRIDWATCH_SIM_SEED": "5",
        "GRIDWATCH_SIM_SENSORS_PER_GATEWAY": "500",
    }
    sim = Pinned.workload("simulator", sim_env, logdir / f"simulator-{site}.log", stack.other_cpu)
    client = stack.client()
    running = [proc, api]
    try:
        proc.start()
        api.start()
        wait_until(lambda: assigned(proc) or not proc.alive(), 60, "processor assignment")
        wait_until(lambda: _healthy(api_port) or not api.alive(), 60, "API health")
        if not (proc.alive() and api.alive()):
            raise RuntimeError(f"workload died:\n{proc.log()[-2000:]}\n{api.log()[-2000:]}")
        sim.start()
        running.append(sim)
        wait_until(lambda: client.hlen(Keys(site).sensors) >= sensors, 120, "every sensor in Redis")
        ids = sorted(x.decode() for x in cast("list[bytes]", client.hkeys(Keys(site).sensors)))
        step = max(1, len(ids) // probes)
        redis_probe = RedisProbe(stack.client(), site, ids[::step][:probes], SAMPLE_INTERVAL_MS / 1000)
        ws_probe = WsProbe(f"ws://127.0.0.1:{api_port}/ws")
        redis_probe.thread.start()
        ws_probe.thread.start()
        time.sleep(warmup_s)
        t0, c0, cpu0 = time.time(), readings_total(client, site), proc.cpu_seconds()
        time.sleep(window_s)
        t1, c1, cpu1 = time.time(), readings_total(client, site), proc.cpu_seconds()
        time.sleep(2.0 + 2 * WS_INTERVAL_S)  # let the window's last readings show
        for probe in (redis_probe, ws_probe):
            probe.stop.set()
            probe.thread.join(5)
    finally:
        for w in reversed(running):
            w.stop()
        client.close()
    in_window = [(ts, seen) for ts, seen in redis_probe.samples if t0 <= ts < t1]
    ticks = sorted({round(ts, 6) for ts, _ in in_window})
    return Latency(
        target_rate=rate,
        sensors=sensors,
        achieved_rate=round((c1 - c0) / (t1 - t0), 1),
        window_s=round(t1 - t0, 2),
        processor_cpu_share=round((cpu1 - cpu0) / (t1 - t0), 3),
        redis=summary_ms([seen - ts for ts, seen in in_window]),
        websocket=summary_ms(ws_samples(ticks, ws_probe.updates)),
    )


def _healthy(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    return False
