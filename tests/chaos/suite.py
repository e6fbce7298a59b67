"""`make chaos`: faults on the real components, with the pipeline's invariants checked after each one.

A steady stream of readings flows through a real processor, history writer, alert engine and API on real Kafka,
Redis (append-only file on, fsync always) and PostgreSQL. For each fault the suite injects it at a random moment,
lifts it, pauses the stream and waits until every reading produced so far is in Redis and in history; it records
how long that took, how many readings each store holds, the workloads' restarts (a supervisor here restarts
crashed workloads with backoff, as `make up` and Kubernetes do), duplicate open alerts, and whether every
consumer is ready again. `python -m tests.chaos.suite --out docs/reliability.md` writes the table.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
from confluent_kafka import Producer
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, ReadingBatch, SensorType, encode

from tests.infra.services import Kafka, Postgres, Redis
from tests.utils.workloads import Workload, free_port

SENSORS = 40
TYPES = (SensorType.POWER, SensorType.TEMPERATURE, SensorType.VIBRATION, SensorType.CURRENT)
TICK_S = 0.1  # one batch of every sensor per 0.1 s: 400 readings/s
HOLD_S = 8.0  # how long a SIGSTOP lasts
SETTLE_TIMEOUT_S = 240.0  # a restart includes imports that take a minute on a loaded 2-core machine
BEGIN, END = "<!-- chaos:begin -->", "<!-- chaos:end -->"
FAULTS = (
    "kill-processor",
    "kill-history",
    "kill-alerts",
    "kill-api",
    "stop-kafka",
    "stop-redis",
    "stop-postgres",
    "restart-redis",
    "restart-kafka",
)
WORKLOADS = ("processor", "history", "alerts", "api")


class PersistentRedis(Redis):
    """redis-server with the append-only file on and fsync on every write: a restart keeps the state."""

    def _command(self) -> list[str]:
        cmd = super()._command()
        i = cmd.index("--appendonly")
        cmd[i + 1] = "yes"
        return [*cmd, "--appendfsync", "always"]


@dataclass
class Outcome:
    """What one fault did."""

    fault: str
    produced: int
    in_redis: int
    in_history: int
    duplicate_alerts: int
    restarts: int
    recovery_s: float
    stuck: list[str]

    @property
    def ok(self) -> bool:
        """The invariants held."""
        same = self.produced == self.in_redis == self.in_history
        return same and not self.duplicate_alerts and not self.stuck and math.isfinite(self.recovery_s)


class Supervisor:
    """Keeps the workloads running: a crashed one is restarted with backoff (0.5 s, doubling to 5 s)."""

    def __init__(self, envs: dict[str, dict[str, str]], logdir: Path) -> None:
        self.envs = envs
        self.logdir = logdir
        self.running = {name: Workload(name, env, logdir).start() for name, env in envs.items()}
        self.restarts = dict.fromkeys(envs, 0)
        self._backoff = dict.fromkeys(envs, 0.5)
        self._due: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            now = time.monotonic()
            for name, w in list(self.running.items()):
                if w.alive():
                    continue
                due = self._due.setdefault(name, now + self._backoff[name])
                if now >= due:
                    self.running[name] = Workload(name, self.envs[name], self.logdir).start()
                    self.restarts[name] += 1
                    self._backoff[name] = min(self._backoff[name] * 2, 5.0)
                    del self._due[name]

    def kill(self, name: str) -> None:
        """SIGKILL one workload (the supervisor restarts it)."""
        w = self.running[name]
        if w.proc is not None and w.alive():
            os.kill(w.proc.pid, signal.SIGKILL)

    def total_restarts(self) -> int:
        """Restarts so far."""
        return sum(self.restarts.values())

    def stop(self) -> None:
        """Stop watching and stop every workload."""
        self._stop.set()
        self._thread.join(5)
        for w in self.running.values():
            w.stop()


class Stream:
    """Produces a batch of every sensor's reading per tick; can pause; counts what the broker acknowledged."""

    def __init__(self, bootstrap: str, site: str) -> None:
        self.topic = f"{site}.readings"
        self.site = site
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
        self.t0 = time.time() - 2 * 86400  # virtual time, one second per tick, well inside the accepted range
        self.ticks = 0
        self.acked = 0
        self._go = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _on_delivery(self, err: object, msg: object) -> None:
        if err is None:
            self.acked += SENSORS

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._go.wait(0.2):
                continue
            ts = self.t0 + self.ticks
            ids = [f"m{i // len(TYPES)}-{TYPES[i % len(TYPES)].value}" for i in range(SENSORS)]
            types = [TYPES[i % len(TYPES)] for i in range(SENSORS)]
            base = {SensorType.POWER: 120.0, SensorType.TEMPERATURE: 60.0, SensorType.VIBRATION: 3.0}
            values = [
                base.get(t, 40.0)
                * (1.0 + 0.02 * math.sin(self.ticks / 9.0 + i))
                * (3.0 if self.ticks % 211 == i else 1.0)
                for i, t in enumerate(types)
            ]
            batch = ReadingBatch(
                SCHEMA_VERSION, self.site, "chaos-gw", self.ticks, ids, [s.split("-")[0] for s in ids], types,
                [ts] * SENSORS, values,
            )  # fmt: skip
            while True:
                try:
                    self.producer.produce(self.topic, encode(batch), b"chaos-gw", on_delivery=self._on_delivery)
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.producer.poll(0)
            self.ticks += 1
            time.sleep(TICK_S)

    def start(self) -> Stream:
        """Start producing."""
        self._thread.start()
        self._go.set()
        return self

    def pause(self) -> int:
        """Stop producing and wait until the broker acknowledged everything; the readings produced so far."""
        self._go.clear()
        time.sleep(TICK_S * 2)
        while self.producer.flush(1.0):
            pass
        return self.acked

    def resume(self) -> None:
        """Produce again."""
        self._go.set()

    def stop(self) -> None:
        """Stop for good."""
        self._go.clear()
        self._stop.set()
        self._thread.join(5)
        self.producer.flush(30)


def _counts(r: redis.Redis, dsn: str, site: str) -> tuple[int, int]:
    try:
        in_redis = int(r.hget(Keys(site).aggregates, "readings_total") or 0)
    except redis.RedisError:
        in_redis = -1
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute("SELECT coalesce(sum(readings), 0) FROM gw_history_minute WHERE site = %s", (site,))
            in_history = int(row.fetchone()[0])  # type: ignore[index]
    except psycopg.Error:
        in_history = -1
    return in_redis, in_history


def _duplicate_alerts(dsn: str, site: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT fingerprint FROM gw_alerts WHERE site = %s AND state <> 'cleared'"
            " GROUP BY fingerprint HAVING count(*) > 1) d",
            (site,),
        )
        return int(row.fetchone()[0])  # type: ignore[index]


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _signal_group(pid: int | None, sig: signal.Signals) -> None:
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)


def run(faults: list[str], workdir: Path, seed: int = 12, log: Callable[[str], None] = print) -> list[Outcome]:
    """Run the faults in order on a fresh stack under `workdir`; one Outcome per fault."""
    rng = random.Random(seed)
    kafka = Kafka(workdir / "kafka").start()
    rds = PersistentRedis(workdir / "redis").start()
    pg = Postgres(workdir / "postgres").start()
    site = f"chaos{seed}"
    supervisor: Supervisor | None = None
    stream: Stream | None = None
    outcomes: list[Outcome] = []
    try:
        with connect(pg.dsn, "chaos") as conn:
            migrate(conn)
        common = {
            "GRIDWATCH_SITE": site,
            "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "GRIDWATCH_REDIS_URL": rds.url,
            "GRIDWATCH_POSTGRES_DSN": pg.dsn,
            "GRIDWATCH_PARTITIONS": "4",
            "GRIDWATCH_HISTORY_FLUSH_INTERVAL_S": "0.5",
            "GRIDWATCH_ALERTS_EVAL_INTERVAL_S": "1",
            "GRIDWATCH_CONSUMER_MAX_LOST_S": "45",
        }
        ports = {name: free_port() for name in WORKLOADS}
        envs = {
            name: {**common, "GRIDWATCH_METRICS_PORT": str(ports[name]), "GRIDWATCH_API_PORT": str(ports[name])}
            for name in WORKLOADS
        }
        logdir = workdir / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        supervisor = Supervisor(envs, logdir)
        deadline = time.monotonic() + 240  # the processor's imports take a while on a loaded machine
        while not all(_ready(p) for p in ports.values()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"workloads not ready; logs in {logdir}")
            time.sleep(0.5)
        stream = Stream(kafka.bootstrap, site).start()
        r = redis.Redis.from_url(rds.url, socket_timeout=3)
        time.sleep(3)
        for fault in faults:
            restarts_before = supervisor.total_restarts()
            time.sleep(rng.uniform(0.5, 3.0))  # a random moment in the stream
            log(f"chaos: {fault}")
            if fault.startswith("kill-"):
                supervisor.kill(fault.removeprefix("kill-"))
            elif fault.startswith("stop-"):
                server = {"kafka": kafka, "redis": rds, "postgres": pg}[fault.removeprefix("stop-")]
                pid = server.pid
                _signal_group(pid, signal.SIGSTOP)
                try:
                    time.sleep(HOLD_S)
                finally:
                    _signal_group(pid, signal.SIGCONT)
            elif fault == "restart-redis":
                rds.stop()
                rds.start()
            elif fault == "restart-kafka":
                kafka.stop()
                kafka.start()
            else:
                raise ValueError(f"unknown fault {fault!r}")
            lifted = time.monotonic()
            produced = stream.pause()
            in_redis = in_history = -1
            stuck: list[str] = []
            while time.monotonic() - lifted < SETTLE_TIMEOUT_S:
                in_redis, in_history = _counts(r, pg.dsn, site)
                stuck = [n for n, p in ports.items() if not _ready(p)]
                if in_redis == in_history == produced and not stuck:
                    break
                time.sleep(0.25)
            recovery = time.monotonic() - lifted
            settled = in_redis == in_history == produced and not stuck
            outcome = Outcome(
                fault,
                produced,
                in_redis,
                in_history,
                _duplicate_alerts(pg.dsn, site),
                supervisor.total_restarts() - restarts_before,
                recovery if settled else math.inf,
                stuck,
            )
            log(f"chaos: {outcome}")
            outcomes.append(outcome)
            stream.resume()
    finally:
        if stream is not None:
            stream.stop()
        if supervisor is not None:
            supervisor.stop()
        for server in (pg, rds, kafka):
            server.stop()
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """The results as a markdown table."""
    lines = [
        "| Fault | Produced | In Redis | In history | Lost | Duplicate open alerts | Restarts | Recovered in | Stuck |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for o in outcomes:
        rec = f"{o.recovery_s:.1f} s" if math.isfinite(o.recovery_s) else "**no**"
        lost = max(o.produced - o.in_history, 0)
        lines.append(
            f"| {o.fault} | {o.produced:,} | {o.in_redis:,} | {o.in_history:,} | {lost:,} | {o.duplicate_alerts} "
            f"| {o.restarts} | {rec} | {', '.join(o.stuck) or 'none'} |"
        )
    return "\n".join(lines)


def write_report(path: Path, outcomes: list[Outcome], seed: int) -> None:
    """Replace the generated block of `path` with the table."""
    text = path.read_text()
    block = (
        f"{BEGIN}\n<!-- generated by `make chaos` (python -m tests.chaos.suite); do not edit -->\n\n"
        f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, seed {seed}, {SENSORS} sensors at "
        f'{SENSORS / TICK_S:.0f} readings/s, SIGSTOPs held {HOLD_S:.0f} s. "Recovered in" is from the fault '
        "being lifted (or the kill) until every reading produced so far was in Redis and in history and every "
        "workload answered /readyz 200.\n\n"
        f"{table(outcomes)}\n{END}"
    )
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Run the suite; non-zero when an invariant did not hold."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated, in order")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--out", type=Path, help="markdown file whose chaos block gets the table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gridwatch-chaos-") as tmp:
        outcomes = run([f for f in args.faults.split(",") if f], Path(tmp), args.seed)
    print(table(outcomes))
    if args.out is not None:
        write_report(args.out, outcomes, args.seed)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
