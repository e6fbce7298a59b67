"""WebSocket fan-out: N clients on one API replica while readings flow; delivery delay of every pushed update."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench.latency import WS_INTERVAL_S, _healthy
from tests.bench.procs import Pinned, wait_until
from tests.bench.stack import BenchStack
from tests.bench.stats import summary_ms
from tests.bench.throughput import assigned
from tests.utils.workloads import free_port


@dataclass
class Fanout:
    """Delivery delay across all clients."""

    clients: int
    connected: int
    failed: int
    dropped: int
    messages: int
    updates: int
    expected_updates: int
    readings_per_s: int
    ws_update_interval_s: float
    api_cpu_share: float
    clients_cpu_share: float
    delay: dict[str, float | int] = field(default_factory=dict)


def measure(stack: BenchStack, clients: int, rate: int, seconds: float, logdir: Path, ramp_s: float = 5.0) -> Fanout:
    """Run simulator → processor → API at `rate` readings/s and connect `clients` WebSocket clients to the API."""
    site = f"ws-{clients}-{time.time_ns() % 10**6}"
    env = stack.env(site)
    port = free_port()
    sensors = max(1, rate // 5)
    proc = Pinned.workload("processor", env, logdir / f"processor-{site}.log", stack.other_cpu)
    api = Pinned.workload(
        "api",
        {**env, "GRIDWATCH_API_PORT": str(port), "GRIDWATCH_API_WS_UPDATE_INTERVAL_S": str(WS_INTERVAL_S)},
        logdir / f"api-{site}.log",
        stack.measured_cpu,
    )
    sim = Pinned.workload(
        "simulator",
        {**env, "GRIDWATCH_SIM_SENSORS": str(sensors), "GRIDWATCH_SIM_SAMPLE_INTERVAL_MS": "200"},
        logdir / f"simulator-{site}.log",
        stack.other_cpu,
    )
    out = logdir / f"wsclients-{site}.json"
    args = ["--url", f"ws://127.0.0.1:{port}/ws", "--clients", str(clients), "--seconds", str(seconds)]
    args += ["--ramp", str(ramp_s), "--out", str(out)]
    load = Pinned([sys.executable, "-m", "tests.bench.wsclients", *args], {}, logdir / f"wsclients-{site}.log")
    running = [proc, api]
    try:
        proc.start()
        api.start()
        wait_until(lambda: assigned(proc) or not proc.alive(), 60, "processor assignment")
        wait_until(lambda: _healthy(port) or not api.alive(), 60, "API health")
        sim.start()
        running.append(sim)
        load.start()
        started, api0 = time.monotonic(), api.cpu_seconds()
        clients_cpu = 0.0
        while load.alive():  # sample the client process's CPU until it exits
            with contextlib.suppress(OSError):
                clients_cpu = max(clients_cpu, load.cpu_seconds())
            time.sleep(0.2)
        wall, api_cpu = time.monotonic() - started, api.cpu_seconds() - api0
        if load.wait(10) != 0:
            raise RuntimeError(f"WebSocket clients failed:\n{load.log()[-2000:]}")
    finally:
        for w in reversed(running):
            w.stop()
    result = json.loads(out.read_text())
    return Fanout(
        clients=clients,
        connected=result["connected"],
        failed=result["failed"],
        dropped=result["dropped"],
        messages=result["messages"],
        updates=result["updates"],
        expected_updates=int(clients * seconds / WS_INTERVAL_S),
        readings_per_s=rate,
        ws_update_interval_s=WS_INTERVAL_S,
        api_cpu_share=round(api_cpu / wall, 3),
        clients_cpu_share=round(clients_cpu / wall, 3),
        delay=summary_ms(result["delays_s"]),
    )
