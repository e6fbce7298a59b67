"""Time processor replicas draining a pre-filled topic into Redis: readings/s, CPU-seconds, peak RSS."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from gridwatch.common.rediskeys import Keys

from tests.bench import profile
from tests.bench.prefill import Prefilled
from tests.bench.procs import Pinned
from tests.bench.stack import BenchStack


@dataclass(frozen=True)
class Drain:
    """One drain of a pre-filled topic by `replicas` processors in one consumer group."""

    sensors: int
    replicas: int
    readings: int
    measured_readings: int
    seconds: float
    readings_per_s: float
    cpu_seconds: float
    cpu_s_per_million: float
    cpu_share: float  # CPU seconds per wall second: below 1 means it waited (I/O, or other load on its core)
    readings_per_cpu_s: float
    peak_rss_mb: float
    startup_s: float
    sensors_in_redis: int


def clear_site(client: redis.Redis, site: str) -> None:
    """Delete every key of a site so the next drain starts from nothing."""
    keys = list(client.scan_iter(match=f"gw:{site}:*", count=1000))
    if keys:
        client.delete(*keys)


def readings_total(client: redis.Redis, site: str) -> int:
    """The processor's own count of readings written for a site."""
    raw = client.hget(Keys(site).aggregates, "readings_total")
    return int(raw or 0)


def assigned(proc: Pinned) -> bool:
    for line in proc.log().splitlines():
        if '"partitions assigned"' not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("partitions"):
            return True
    return False


def drain(
    stack: BenchStack,
    filled: Prefilled,
    logdir: Path,
    replicas: int = 1,
    cpus: list[str | None] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 600.0,
    profile_to: Path | None = None,
) -> Drain:
    """Start `replicas` processors (pinned to `cpus`) on the topic and time them until every reading is in Redis.

    The clock starts once every replica holds partitions, so a second replica's join is not counted as idle time;
    readings written before that are left out of the rate.
    """
    client = stack.client()
    site = filled.site
    clear_site(client, site)
    cpus = cpus or [stack.measured_cpu] * replicas
    group = f"bench-{site}-{replicas}-{time.time_ns()}"
    env = {**stack.env(site), "GRIDWATCH_PROC_GROUP": group, **(extra_env or {})}
    procs = [
        Pinned.workload("processor", env, logdir / f"processor-{group}-{i}.log", cpus[i % len(cpus)])
        for i in range(replicas)
    ]
    launched = time.monotonic()
    for p in procs:
        p.start()
    spy = profile.attach(procs[0].pid, profile_to, stack.other_cpu) if profile_to is not None else None
    try:
        deadline = launched + timeout
        first: tuple[float, float] | None = None
        while not all(assigned(p) for p in procs):
            _check(procs, deadline, "partitions assigned")
            if first is None and any(assigned(p) for p in procs):
                first = (time.monotonic(), sum(p.cpu_seconds() for p in procs))
            time.sleep(0.02)
        t0 = time.monotonic()
        c0 = readings_total(client, site)
        cpu0 = sum(p.cpu_seconds() for p in procs)
        if replicas == 1:
            c0 = 0  # nothing is written before the assignment, which was just seen: every reading counts
        elif c0 > filled.readings // 2 and first is not None:  # the first replica drained most of it alone
            (t0, cpu0), c0 = first, 0
        while readings_total(client, site) < filled.readings:
            _check(procs, deadline, f"{filled.readings} readings in Redis")
            time.sleep(0.02)
        t1 = time.monotonic()
        cpu1 = sum(p.cpu_seconds() for p in procs)
        rss = max(p.peak_rss() for p in procs)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        for p in procs:
            p.stop()
    measured = filled.readings - c0
    seconds = t1 - t0
    cpu = cpu1 - cpu0
    sensors = int(client.zcard(Keys(site).index))
    client.close()
    return Drain(
        sensors=filled.sensors,
        replicas=replicas,
        readings=filled.readings,
        measured_readings=measured,
        seconds=round(seconds, 3),
        readings_per_s=round(measured / seconds, 1),
        cpu_seconds=round(cpu, 3),
        cpu_s_per_million=round(cpu / measured * 1e6, 3),
        cpu_share=round(cpu / seconds, 3),
        readings_per_cpu_s=round(measured / cpu, 1) if cpu else 0.0,
        peak_rss_mb=round(rss / 2**20, 1),
        startup_s=round(t0 - launched, 3),
        sensors_in_redis=sensors,
    )


def _check(procs: list[Pinned], deadline: float, what: str) -> None:
    for p in procs:
        if not p.alive():
            raise RuntimeError(f"processor exited while waiting for {what}:\n{p.log()[-3000:]}")
    if time.monotonic() > deadline:
        raise TimeoutError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Ceiling:
    """One core's consume + decode + discard of the same topic (`tests.bench.rawdrain`): the processor's upper bound."""

    readings: int
    messages: int
    seconds: float
    readings_per_s: float
    cpu_seconds: float
    readings_per_cpu_s: float


def ceiling(stack: BenchStack, filled: Prefilled, logdir: Path, timeout: float = 600.0) -> Ceiling:
    """Drain `filled`'s topic with the raw consumer pinned to the processor's core, and read its JSON line."""
    log = logdir / f"rawdrain-{filled.site}-{time.time_ns()}.log"
    proc = Pinned.module(
        "tests.bench.rawdrain",
        [stack.kafka.bootstrap, filled.topic, str(filled.readings)],
        {},
        log,
        stack.measured_cpu,
    ).start()
    try:
        code = proc.wait(timeout)
    finally:
        proc.stop()
    lines = [line for line in proc.log().splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        raise RuntimeError(f"raw drain exited {code}:\n{proc.log()[-3000:]}")
    got = json.loads(lines[-1])
    seconds, cpu = float(got["seconds"]), float(got["cpu_seconds"])
    return Ceiling(
        readings=int(got["readings"]),
        messages=int(got["messages"]),
        seconds=seconds,
        readings_per_s=round(got["readings"] / seconds, 1) if seconds else 0.0,
        cpu_seconds=cpu,
        readings_per_cpu_s=round(got["readings"] / cpu, 1) if cpu else 0.0,
    )
