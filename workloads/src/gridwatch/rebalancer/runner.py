"""The rebalancer's loop: the latest plan from `<prefix>.dispatch`, the live state from Redis, commands out."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import socket
import time
import uuid

import msgspec
import psycopg
import redis
from confluent_kafka import Consumer, Message, Producer
from prometheus_client import Counter, Gauge
from psycopg.rows import TupleRow

from gridwatch.common import kafka, redisclient
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.logging import configure_logging
from gridwatch.common.metrics import announce
from gridwatch.common.probes import ProbeServer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, Command, DispatchPlan, encode
from gridwatch.common.shutdown import StopFlag
from gridwatch.rebalancer.policy import CLAMP_LIMITS, BatteryLive, Decision, Limits, LoadLive, decide
from gridwatch.rebalancer.settings import RebalancerSettings

LABELS = ("site", "component")
COMMANDS = Counter(
    "gridwatch_rebalancer_commands_total", "Commands decided, by kind and whether sent", (*LABELS, "kind", "sent")
)
CLAMPED = Counter(
    "gridwatch_rebalancer_clamped_total", "Setpoints a safety limit changed, by limit", (*LABELS, "limit")
)
PLAN_AGE = Gauge("gridwatch_rebalancer_plan_age_seconds", "Age of the plan commands follow", LABELS)
AUDIT_SQL = """
INSERT INTO gw_rebalancer_audit
    (command_id, site, ts, plan_id, target, kind, requested_kw, setpoint_kw, clamps, reason, dry_run, sent)
VALUES (%s, %s, to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (command_id) DO NOTHING
"""


class LoadState(msgspec.Struct, frozen=True):
    """A flexible load's reported state in Redis."""

    p_kw: float
    running: bool
    run_s: float = 0.0
    limit_kw: float | None = None
    ts: float = 0.0


class BatteryState(msgspec.Struct, frozen=True):
    """A battery's reported state in Redis."""

    soc_frac: float
    p_kw: float = 0.0
    ts: float = 0.0


class Rebalancer:
    """Sends each battery a setpoint every interval and limits flexible loads, within the safety limits."""

    def __init__(self, settings: RebalancerSettings, stop: StopFlag) -> None:
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="rebalancer")
        self.labels = announce(settings.site, "rebalancer")
        self.keys = Keys(settings.site)
        client_id = f"rebalancer@{socket.gethostname()}"
        self.producer = Producer(kafka.producer_config(settings.kafka_bootstrap, client_id))
        self.consumer = Consumer(
            kafka.consumer_config(
                settings.kafka_bootstrap, settings.consumer_group, client_id, **{"auto.offset.reset": "latest"}
            )
        )
        self.redis = redisclient.connect(settings)
        self.topic = settings.topic("commands")
        self.limits = Limits(settings.ramp_kw_per_s, settings.soc_guard_frac, settings.interval_s)
        self.plan: DispatchPlan | None = None
        self.previous: dict[str, float] = {}
        self.limited: dict[str, float | None] = {}
        self.conn: psycopg.Connection[TupleRow] | None = None
        self.healthy = False
        for limit in CLAMP_LIMITS:  # every series exists from the start, at 0
            CLAMPED.labels(**self.labels, limit=limit)

    # --- inputs --------------------------------------------------------------------------------------------
    def _take_plans(self, messages: list[Message]) -> None:
        def ignore(msg: Message, reason: str) -> None:
            self.log.warning("undecodable dispatch message skipped", reason=reason)

        for _, m in kafka.decoded(messages, ignore):
            newer = self.plan is None or (isinstance(m, DispatchPlan) and m.created_ts >= self.plan.created_ts)
            if isinstance(m, DispatchPlan) and m.site == self.settings.site and newer:
                self.plan = m

    def poll_plans(self, timeout: float = 0.0, max_messages: int = 100) -> None:
        """Take any new plan from Kafka (the newest wins); waits up to `timeout` for `max_messages`."""
        messages = self.consumer.consume(num_messages=max_messages, timeout=timeout)
        if messages:
            self._take_plans(messages)
            with contextlib.suppress(Exception):
                self.consumer.commit(asynchronous=True)

    def _live(self, now: float) -> tuple[float | None, dict[str, BatteryLive], dict[str, LoadLive]]:
        s = self.settings
        raw = self.redis.hget(self.keys.aggregates, "total_power_kw")
        load = float(raw) if raw is not None else None
        batteries: dict[str, BatteryLive] = {}
        for name, value in self.redis.hgetall(self.keys.batteries).items():
            with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                st = msgspec.json.decode(value, type=BatteryState)
                if now - st.ts <= s.state_max_age_s and math.isfinite(st.soc_frac):
                    batteries[_text(name)] = BatteryLive(st.soc_frac, st.p_kw)
        loads: dict[str, LoadLive] = {}
        for name, value in self.redis.hgetall(self.keys.flexible_loads).items():
            with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                ls = msgspec.json.decode(value, type=LoadState)
                if now - ls.ts <= s.state_max_age_s:
                    loads[_text(name)] = LoadLive(ls.p_kw, ls.running, ls.run_s, ls.limit_kw)
        if load is not None:  # the site's meters see the batteries (net); the load is that plus their discharge
            load += sum(b.p_kw for b in batteries.values() if math.isfinite(b.p_kw))
        return (load if load is not None and math.isfinite(load) else None), batteries, loads

    # --- one decision --------------------------------------------------------------------------------------
    def step(self, now: float) -> list[Command]:
        """Decide and send (or, in dry run, only audit) the commands for now."""
        s = self.settings
        if self.plan is None:
            raw = self.redis.get(self.keys.storage_plan)
            if raw is not None:
                with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                    self.plan = msgspec.json.decode(raw, type=DispatchPlan)
        load, batteries, loads = self._live(now)
        decisions = decide(
            self.plan, now, load, s.batteries, batteries, self.previous, s.flexible_loads, loads, self.limits
        )
        if self.plan is not None:
            PLAN_AGE.labels(**self.labels).set(max(now - self.plan.created_ts, 0.0))
        sent: list[Command] = []
        for d in decisions:
            cmd = self._command(d, now)
            if not s.dry_run:
                kafka.produce(self.producer, self.topic, encode(cmd), d.target.encode())
                self.redis.hset(self.keys.commands, d.target, msgspec.json.encode(cmd))
            self._audit(cmd, d)
            COMMANDS.labels(**self.labels, kind=d.kind.value, sent=str(not s.dry_run).lower()).inc()
            for c in d.clamps:
                CLAMPED.labels(**self.labels, limit=c).inc()
            if d.kind.value == "battery_setpoint":
                self.previous[d.target] = d.setpoint_kw
            sent.append(cmd)
        self.producer.poll(0)
        return sent

    def _command(self, d: Decision, now: float) -> Command:
        s = self.settings
        reason = d.reason + (f" (clamped: {', '.join(d.clamps)})" if d.clamps else "")
        return Command(
            schema_version=SCHEMA_VERSION,
            site=s.site,
            command_id=uuid.uuid4().hex,
            ts=now,
            target=d.target,
            kind=d.kind,
            setpoint_kw=d.setpoint_kw,
            valid_until_ts=now + s.interval_s * s.command_ttl_intervals,
            plan_id=self.plan.plan_id if self.plan is not None else "",
            reason=reason,
            dry_run=s.dry_run,
        )

    def _audit(self, cmd: Command, d: Decision) -> None:
        conninfo = self.settings.postgres_conninfo
        if not conninfo:
            return
        try:
            if self.conn is None:
                conn = connect(conninfo, "rebalancer")
                ensure_schema(conn)
                self.conn = conn
            self.conn.execute(
                AUDIT_SQL,
                (
                    cmd.command_id,
                    cmd.site,
                    cmd.ts,
                    cmd.plan_id,
                    cmd.target,
                    cmd.kind.value,
                    d.requested_kw,
                    cmd.setpoint_kw,
                    d.clamps,
                    cmd.reason,
                    cmd.dry_run,
                    not cmd.dry_run,
                ),
            )
        except psycopg.Error as exc:
            self.log.warning("audit write failed", error=str(exc), command=cmd.command_id)
            if self.conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self.conn.close()
            self.conn = None

    def start(self) -> None:
        """Create the topics and subscribe to the plans."""
        s = self.settings
        kafka.ensure_site_topics(s)
        kafka.ensure_topics(s.kafka_bootstrap, [self.topic], s.partitions, s.replication_factor)
        self.consumer.subscribe([s.topic("dispatch")])

    def run(self) -> None:
        """Decide every interval until stopped."""
        s = self.settings
        self.start()
        self.log.info(
            "rebalancer starting",
            batteries=[b.name for b in s.batteries],
            flexible_loads=[f.name for f in s.flexible_loads],
            dry_run=s.dry_run,
        )
        next_at = time.time()
        try:
            while self.stop.running:
                self.poll_plans(timeout=min(max(next_at - time.time(), 0.0), 0.5))
                if time.time() < next_at:
                    continue
                now = time.time()
                try:
                    cmds = self.step(now)
                    self.healthy = True
                    self.log.info(
                        "commands",
                        at=dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
                        commands=[(c.target, c.kind.value, round(c.setpoint_kw, 3)) for c in cmds],
                    )
                except (redis.RedisError, OSError) as exc:
                    self.healthy = False
                    self.log.warning("step failed; retrying", error=str(exc))
                next_at = now + s.interval_s
        finally:
            self.producer.flush(10)
            self.consumer.close()
            if self.conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self.conn.close()
            self.log.info("rebalancer stopped")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def main(settings: RebalancerSettings) -> None:
    """Entry point of `gridwatch rebalancer`."""
    stop = StopFlag().install()
    rebalancer = Rebalancer(settings, stop)
    probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=lambda: rebalancer.healthy)
    probes.start()
    try:
        rebalancer.run()
    finally:
        probes.stop()
