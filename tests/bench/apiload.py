"""API latency under a paced load from a real load generator (wrk with a Lua script, else an open-loop Python one)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.latency import _healthy
from tests.bench.procs import Pinned, wait_until
from tests.bench.stack import BenchStack
from tests.utils.workloads import free_port

ENDPOINTS = ("/api/dashboard/stats", "/api/sensors?limit=100")

LUA = """
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
function delay()
  return delay_ms
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"errors":%d,"non_2xx":%d,' ..
    '"p50_ms":%.2f,"p95_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"mean_ms":%.2f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
"""


@dataclass(frozen=True)
class ApiLoad:
    """Latency of one endpoint at a paced rate, and its unpaced capacity."""

    endpoint: str
    tool: str
    sensors: int
    target_rate: float
    achieved_rate: float
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    capacity_rps: float


def _wrk(
    url: str, seconds: float, connections: int, delay_ms: float, script: Path, cpus: str | None
) -> dict[str, float]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    if cpus is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", cpus, *argv]
    env = {"BENCH_DELAY_MS": str(max(0, round(delay_ms)))}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
            result["rate"] = result["requests"] / result["duration_s"]
            return result
    raise RuntimeError(f"wrk printed no result (exit {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")


def _python(url: str, seconds: float, rate: float, logdir: Path, cpus: str | None) -> dict[str, float]:
    out = logdir / f"pyload-{time.time_ns()}.json"
    args = ["--url", url, "--rate", str(rate), "--seconds", str(seconds), "--out", str(out)]
    proc = Pinned([sys.executable, "-m", "tests.bench.pyload", *args], {}, logdir / "pyload.log", cpus)
    if proc.start().wait(seconds + 120) != 0:
        raise RuntimeError(f"python load generator failed:\n{proc.log()[-2000:]}")
    result: dict[str, float] = json.loads(out.read_text())
    return result


def measure(stack: BenchStack, site: str, sensors: int, logdir: Path, rate: float, seconds: float) -> list[ApiLoad]:
    """Start one API replica on the measured core for `site` and load each endpoint at `rate` requests/s."""
    port = free_port()
    api = Pinned.workload(
        "api", {**stack.env(site), "GRIDWATCH_API_PORT": str(port)}, logdir / f"api-{site}.log", stack.measured_cpu
    )
    api.start()
    results: list[ApiLoad] = []
    script = logdir / "bench.lua"
    script.write_text(LUA)
    tool = "wrk" if shutil.which("wrk") else "python-asyncio"
    try:
        wait_until(lambda: _healthy(port) or not api.alive(), 60, "API health")
        for endpoint in ENDPOINTS:
            url = f"http://127.0.0.1:{port}{endpoint}"
            if tool == "wrk":
                _wrk(url, 1, 4, 0, script, stack.other_cpu)  # warm-up
                capacity = _wrk(url, max(2.0, seconds / 3), 8, 0, script, stack.other_cpu)
                connections = 10
                delay = max(0.0, 1000.0 * connections / rate - capacity["mean_ms"])
                trial = _wrk(url, 3, connections, delay, script, stack.other_cpu)  # calibrate the pacing
                delay = max(0.0, (delay + trial["mean_ms"]) * trial["rate"] / rate - trial["mean_ms"])
                paced = _wrk(url, seconds, connections, delay, script, stack.other_cpu)
                capacity_rps = capacity["rate"]
            else:
                paced = _python(url, seconds, rate, logdir, stack.other_cpu)
                capacity_rps = 0.0
            results.append(
                ApiLoad(
                    endpoint=endpoint,
                    tool=tool,
                    sensors=sensors,
                    target_rate=rate,
                    achieved_rate=round(paced["rate"], 1),
                    requests=int(paced["requests"]),
                    errors=int(paced["errors"] + paced["non_2xx"]),
                    p50_ms=round(paced["p50_ms"], 2),
                    p95_ms=round(paced["p95_ms"], 2),
                    p99_ms=round(paced["p99_ms"], 2),
                    max_ms=round(paced["max_ms"], 2),
                    capacity_rps=round(capacity_rps, 1),
                )
            )
    finally:
        api.stop()
    return results
