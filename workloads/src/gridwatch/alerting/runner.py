"""The alert engine's loop: processor alerts from Kafka, periodic rule evaluation, delivery in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter

import httpx
import psycopg
import redis
from psycopg.rows import TupleRow

from gridwatch.alerting import lifecycle, metrics, store
from gridwatch.alerting.lifecycle import OpenAlert, Timing
from gridwatch.alerting.outbox import Outbox
from gridwatch.alerting.rules import (
    PROCESSOR_RULE,
    SEVERITY_RANK,
    Condition,
    Evaluator,
    Snapshot,
    fingerprint,
    processor_condition,
)
from gridwatch.alerting.settings import AlertSettings
from gridwatch.common import kafka, redisclient, tracing
from gridwatch.common.consumer import ConsumerLoop, ConsumerSpec, Record, retry
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.logging import configure_logging
from gridwatch.common.metrics import announce
from gridwatch.common.probes import ProbeServer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import Alert
from gridwatch.common.shutdown import StopFlag
from gridwatch.common.state import decode_beats, decode_states

PURGE_INTERVAL_S = 3600.0


class AlertEngine:
    """Keeps the site's alerts in PostgreSQL current with processor alerts and the live state in Redis."""

    def __init__(self, settings: AlertSettings, stop: StopFlag) -> None:
        if not settings.postgres_conninfo:
            raise SystemExit("gridwatch alerts needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_POSTGRES_HOST)")
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="alerts")
        self.labels = announce(settings.site, "alerts")
        self.topic = settings.topic("alerts")
        self.loop = ConsumerLoop(
            ConsumerSpec(
                settings.kafka_bootstrap,
                self.topic,
                settings.consumer_group,
                f"alerts@{socket.gethostname()}",
                settings.topic("dlq"),
                max_lost_s=settings.consumer_max_lost_s,
            ),
            self.handle,
            stop,
            self.log,
            on_tick=self._tick,
            ready=lambda: self.healthy,
        )
        self.redis = redisclient.connect(settings)
        self.keys = Keys(settings.site)
        self.evaluator = Evaluator(settings.active_rules)
        self.timing = Timing(settings.clear_after_s, settings.reopen_window_s, settings.touch_interval_s)
        self.conn: psycopg.Connection[TupleRow] | None = None
        self.healthy = False
        self.next_eval = 0.0
        self.done = threading.Event()
        self.delivery = threading.Thread(target=self._delivery_loop, name="alert-delivery", daemon=True)

    # --- PostgreSQL --------------------------------------------------------------------------
    def _db(self) -> psycopg.Connection[TupleRow]:
        if self.conn is None:
            conn = connect(self.settings.postgres_conninfo, "alerts")
            applied = ensure_schema(conn)
            if applied:
                self.log.info("migrations applied", migrations=applied)
            self.conn = conn
        return self.conn

    def _drop_db(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
        self.conn = None

    # --- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Run until stopped."""
        s = self.settings
        outcome = kafka.ensure_site_topics(s)
        self.log.info(
            "alert engine starting",
            topics=outcome,
            rules=[r.name for r in self.evaluator.rules],
            routes=[r.name for r in s.routes],
        )
        self.delivery.start()
        try:
            self.loop.run()
        finally:
            self.done.set()
            self.delivery.join(timeout=s.delivery_timeout_s + 5)
            self._drop_db()
            self.log.info("alert engine stopped")

    def _tick(self) -> None:
        if time.monotonic() >= self.next_eval:
            self.next_eval = time.monotonic() + self.settings.eval_interval_s
            self.evaluate()

    def _retrying(self, what: str) -> psycopg.Connection[TupleRow] | None:
        """The connection, or None after logging why PostgreSQL cannot be used now."""
        try:
            return self._db()
        except psycopg.Error as exc:
            self._failed(what, exc)
            return None

    def _failed(self, what: str, exc: BaseException) -> None:
        metrics.ERRORS.labels(**self.labels, what=what).inc()
        if self.healthy:
            self.log.error("alert engine operation failed; retrying", what=what, error=str(exc))
        self.healthy = False
        if isinstance(exc, psycopg.Error):
            self._drop_db()

    def handle(self, records: list[Record]) -> None:
        """Apply processor alerts exactly once (offset ledger); the loop verifies dead letters, then commits."""
        alerts: list[tuple[int, int, Alert]] = []
        for r in records:
            decoded = r.value
            if not isinstance(decoded, Alert) or decoded.site != self.settings.site:
                reason = f"unexpected {type(decoded).__name__} for site '{getattr(decoded, 'site', '?')}' on alerts"
                self.loop.dead_letter(r.msg, reason)
                continue
            alerts.append((r.partition, r.offset, decoded))
        if alerts:
            retry(
                "applying processor alerts",
                lambda: self._apply_records(alerts),
                (psycopg.Error,),
                self.stop,
                self.log,
                beat=self.loop.touch,
                on_error=lambda exc: self._failed("kafka-alerts", exc),
            )
            self.healthy = True

    def _apply_records(self, records: list[tuple[int, int, Alert]]) -> None:
        conn = self._db()
        now = time.time()
        done: Counter[str] = Counter()
        with conn.transaction():
            start = store.LEDGER.claim(conn, self.topic, sorted({p for p, _, _ in records}))
            fresh = [(p, o, a) for p, o, a in records if o >= start[p]]
            open_alerts = store.load_open(conn, self.settings.site)
            fps = [fingerprint(PROCESSOR_RULE, a.sensor_id) for _, _, a in fresh]
            cleared = store.load_cleared(conn, self.settings.site, fps, now - self.timing.reopen_window)
            marks = store.load_marks(conn, self.settings.site, fps)
            ends: dict[int, int] = {}
            for partition, offset, alert in fresh:
                ends[partition] = max(ends.get(partition, -1), offset + 1)
                mark = marks.get(fingerprint(PROCESSOR_RULE, alert.sensor_id))
                if mark is not None and alert.ts <= mark:  # republished by a processor that crashed before its commit
                    done["republished"] += 1
                    continue
                marks[fingerprint(PROCESSOR_RULE, alert.sensor_id)] = alert.ts
                cond = Condition(
                    fingerprint(PROCESSOR_RULE, alert.sensor_id),
                    PROCESSOR_RULE,
                    alert.severity.value,
                    alert.message,
                    alert.failure_probability,
                    alert.sensor_id,
                    alert.machine,
                    {"type": alert.type.value, "kind": alert.kind},
                )
                fp = cond.fingerprint
                action = lifecycle.on_event(cond, open_alerts.get(fp), cleared.pop(fp, None), now, self.timing)
                (alert_id,) = store.apply(conn, self.settings.site, [action], now)
                if alert_id is not None:
                    previous = open_alerts.get(fp)
                    severity = cond.severity
                    if previous is not None and SEVERITY_RANK[previous.severity] > SEVERITY_RANK[severity]:
                        severity = previous.severity
                    open_alerts[fp] = OpenAlert(alert_id, fp, PROCESSOR_RULE, severity, "active", now, None)
                done[action.kind] += 1
            store.save_marks(conn, self.settings.site, marks)
            store.LEDGER.advance(conn, self.topic, ends)
        metrics.MESSAGES.labels(**self.labels).inc(len(fresh))
        metrics.REPLAYED.labels(**self.labels).inc(len(records) - len(fresh))
        metrics.REPUBLISHED.labels(**self.labels).inc(done.pop("republished", 0))
        for kind, n in done.items():
            metrics.ACTIONS.labels(**self.labels, action=kind).inc(n)

    def snapshot(self) -> Snapshot:
        """Live state of every sensor and producer."""
        raw_states = self.redis.hgetall(self.keys.sensors)
        raw_beats = self.redis.hgetall(self.keys.producers)
        return Snapshot(
            time.time(),
            decode_states(raw_states.values(), self.settings.site, "alerts"),  # corrupt records: reported, skipped
            decode_beats(raw_beats.values(), self.settings.site, "alerts"),
        )

    def evaluate(self) -> None:
        """Evaluate the rules on a fresh snapshot and reconcile the alerts table with the result."""
        started = time.perf_counter()
        try:
            snap = self.snapshot()
        except redis.RedisError as exc:  # without state nothing can be said to have resolved: skip the tick
            self._failed("redis", exc)
            return
        holding = self.evaluator.evaluate(snap)
        conn = self._retrying("evaluate")
        if conn is None:
            return
        try:
            with conn.transaction():
                open_alerts = store.load_open(conn, self.settings.site)
                states = {s.id: s for s in snap.sensors}
                for fp, alert in open_alerts.items():
                    if alert.rule == PROCESSOR_RULE and fp not in holding:
                        sid = fp.split(":", 1)[1]
                        state = states.get(sid)
                        value = state.failure_probability if state is not None else None
                        cond = processor_condition(state, alert.severity, "", value)  # "" keeps the stored message
                        if cond is not None:
                            holding[fp] = cond
                new = [fp for fp in holding if fp not in open_alerts]
                cleared = store.load_cleared(conn, self.settings.site, new, snap.now - self.timing.reopen_window)
                actions = lifecycle.reconcile(open_alerts, holding, cleared, snap.now, self.timing)
                store.apply(conn, self.settings.site, actions, snap.now)
                counts = conn.execute(
                    "SELECT severity, count(*) FROM gw_alerts WHERE site = %s AND state <> 'cleared' GROUP BY 1",
                    (self.settings.site,),
                ).fetchall()
        except psycopg.Error as exc:
            self._failed("evaluate", exc)
            return
        if not self.healthy:
            self.log.info("alert engine healthy")
        self.healthy = True
        by_kind = Counter(a.kind for a in actions)
        for kind, n in by_kind.items():
            metrics.ACTIONS.labels(**self.labels, action=kind).inc(n)
        open_by = {str(sev): int(n) for sev, n in counts}
        for sev in ("info", "warning", "critical"):
            metrics.OPEN.labels(**self.labels, severity=sev).set(open_by.get(sev, 0))
        if any(a.kind in ("create", "reopen", "clear", "escalate") for a in actions):
            self.log.info("alerts changed", **{k: v for k, v in by_kind.items() if k != "touch"})
        metrics.EVALUATION.labels(**self.labels).observe(time.perf_counter() - started, tracing.exemplar())

    # --- delivery thread -----------------------------------------------------------------------
    def _delivery_loop(self) -> None:
        s = self.settings
        outbox: Outbox | None = None
        next_refresh = time.time() + s.alertmanager_resend_s
        next_purge = 0.0
        with httpx.Client() as client:
            while not self.done.is_set():
                busy = False
                try:
                    if outbox is None:
                        outbox = Outbox(connect(s.postgres_conninfo, "alerts-delivery"), s, client)
                    busy = outbox.route() > 0
                    now = time.time()
                    if s.alertmanager_resend_s > 0 and now >= next_refresh:
                        next_refresh = now + s.alertmanager_resend_s
                        outbox.refresh_alertmanager(now)
                    result = outbox.deliver()
                    busy = busy or result["delivered"] > 0
                    metrics.PENDING.labels(**self.labels).set(outbox.pending())
                    if now >= next_purge:
                        next_purge = now + PURGE_INTERVAL_S
                        purged = store.purge(outbox.conn, s.site, s.retention_days)
                        if any(purged.values()):
                            self.log.info("purged old alerts and notifications", **purged)
                except psycopg.Error as exc:
                    metrics.ERRORS.labels(**self.labels, what="delivery").inc()
                    self.log.warning("notification delivery paused: postgres unavailable", error=str(exc))
                    if outbox is not None:
                        with contextlib.suppress(psycopg.Error):
                            outbox.conn.close()
                    outbox = None
                    self.done.wait(2.0)
                    continue
                if not busy:
                    self.done.wait(0.5)
            if outbox is not None:
                with contextlib.suppress(psycopg.Error):
                    outbox.conn.close()

    def ready(self) -> bool:
        """Ready while PostgreSQL and Redis take the engine's work and the consumer group is confirmed."""
        return self.loop.ready()


def main(settings: AlertSettings) -> None:
    """Entry point for `gridwatch alerts`."""
    stop = StopFlag().install()
    tracing.configure("gridwatch-alerts")
    engine = AlertEngine(settings, stop)
    probes = ProbeServer(
        settings.metrics_host, settings.metrics_port, ready=engine.ready, live=engine.loop.live
    ).start()
    try:
        engine.run()
    finally:
        probes.stop()
