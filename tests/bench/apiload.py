"""API latency under a paced load from a real load generator (wrk with a Lua script, else an open-loop Python one).

Alone, on a Redis filled with synthetic sensor states (no Kafka, no processor), for a quick before/after:
`python -m tests.bench.apiload --sensors 10000 --rate 200 --seconds 10 [--pythonpath OLD/workloads/src]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import redis

from tests.bench.latency import _healthy
from tests.bench.procs import Pinned, wait_until
from tests.utils.workloads import free_port

# The seed paths (aliases of /api/v1/...), so that figures compare with builds that predate /api/v1.
ENDPOINTS = ("/api/dashboard/stats", "/api/sensors?limit=100")


class Stack(Protocol):
    """What the API phase needs of the bench stack: the workload environment and the cores to use."""

    measured_cpu: str | None
    other_cpu: str | None

    def env(self, site: str) -> dict[str, str]: ...


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


def measure(
    stack: Stack,
    site: str,
    sensors: int,
    logdir: Path,
    rate: float,
    seconds: float,
    extra_env: dict[str, str] | None = None,
) -> list[ApiLoad]:
    """Start one API replica on the measured core for `site` and load each endpoint at `rate` requests/s."""
    port = free_port()
    # the load comes from one address: the per-client rate limit would measure itself, not the API
    env = {**stack.env(site), "GRIDWATCH_API_PORT": str(port), "GRIDWATCH_API_RATE_LIMIT_RPS": "0", **(extra_env or {})}
    api = Pinned.workload("api", env, logdir / f"api-{site}.log", stack.measured_cpu)
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


def cpu_per_request(
    stack: Stack, site: str, logdir: Path, requests: int, extra_env: dict[str, str]
) -> dict[str, float]:
    """API CPU milliseconds per request of each endpoint, over `requests` sequential keep-alive requests.

    CPU time, unlike latency, hardly depends on what else the machine runs; 1000 / it is the single-core capacity.
    """
    import httpx

    port = free_port()
    env = {**stack.env(site), "GRIDWATCH_API_PORT": str(port), "GRIDWATCH_API_RATE_LIMIT_RPS": "0", **extra_env}
    api = Pinned.workload("api", env, logdir / f"api-cpu-{site}.log", stack.measured_cpu)
    api.start()
    out: dict[str, float] = {}
    try:
        wait_until(lambda: _healthy(port) or not api.alive(), 120, "API health")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for endpoint in ENDPOINTS:
                for _ in range(min(200, requests)):  # warm-up: caches, lazy imports, connection
                    client.get(endpoint).raise_for_status()
                before = api.cpu_seconds()
                for _ in range(requests):
                    client.get(endpoint).raise_for_status()
                out[endpoint] = round(1000.0 * (api.cpu_seconds() - before) / requests, 3)
    finally:
        api.stop()
    return out


class RedisOnly:
    """A Redis server and the cores to use: all the API phase reads."""

    def __init__(self, url: str, pinned: bool) -> None:
        self.url = url
        self.measured_cpu: str | None = "1" if pinned and (os.cpu_count() or 1) > 1 else None
        self.other_cpu: str | None = "0" if self.measured_cpu else None

    def env(self, site: str) -> dict[str, str]:
        """GRIDWATCH_* variables of the API serving `site`."""
        return {"GRIDWATCH_SITE": site, "GRIDWATCH_REDIS_URL": self.url, "GRIDWATCH_METRICS_PORT": "0"}


def main(argv: list[str] | None = None) -> int:
    """Measure the API alone on a Redis filled with `--sensors` synthetic states; print one JSON line per endpoint."""
    from tests.infra.services import Redis
    from tests.utils.site_state import seed_site

    parser = argparse.ArgumentParser(prog="python -m tests.bench.apiload", description=main.__doc__)
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cpu-requests", type=int, default=0, help="measure CPU ms per request instead of latency")
    parser.add_argument("--no-pin", action="store_true", help="leave the API and the load generator unpinned")
    parser.add_argument("--pythonpath", default="", help="run the API from this source tree (e.g. an older build)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="gridwatch-apiload-"))
    server = Redis(workdir / "redis")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        seed_site(client, "apiload", args.sensors)
        client.close()
        extra = {"PYTHONPATH": args.pythonpath} if args.pythonpath else {}
        if args.cpu_requests:
            cpu = cpu_per_request(RedisOnly(server.url, not args.no_pin), "apiload", workdir, args.cpu_requests, extra)
            print(json.dumps({"sensors": args.sensors, "requests": args.cpu_requests, "cpu_ms_per_request": cpu}))
            return 0
        for load in measure(
            RedisOnly(server.url, not args.no_pin), "apiload", args.sensors, workdir, args.rate, args.seconds, extra
        ):
            print(json.dumps(asdict(load)))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
