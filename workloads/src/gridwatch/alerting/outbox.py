"""Durable notifications: route events into the outbox, deliver with retries and exponential backoff."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import structlog
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from gridwatch.alerting import metrics, payloads
from gridwatch.alerting.rules import SEVERITY_RANK
from gridwatch.alerting.settings import AlertSettings, RouteConfig
from gridwatch.common import alert_rows

NOT_FOR_ALERTMANAGER = frozenset({"acknowledged", "refired"})
LEASE_S = 60


@dataclass(frozen=True)
class Claimed:
    """One outbox row taken for delivery."""

    id: int
    route: str
    key: str
    payload: Any
    attempts: int
    created_at: float


def backoff(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failures: base * 2^(attempts-1), capped, +/-20 % jitter."""
    delay = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay * (rng or random).uniform(0.8, 1.2)


def wants(route: RouteConfig, event: str, severity: str) -> bool:
    """Whether a route takes an event of an alert with this severity."""
    if event not in route.events or SEVERITY_RANK[severity] < SEVERITY_RANK[route.min_severity.value]:
        return False
    return not (route.kind == "alertmanager" and event in NOT_FOR_ALERTMANAGER)


class Outbox:
    """Routes, delivers and refreshes notifications of one site over its own connection."""

    def __init__(self, conn: psycopg.Connection[TupleRow], settings: AlertSettings, client: httpx.Client) -> None:
        self.conn = conn
        self.settings = settings
        self.site = settings.site
        self.routes = {r.name: r for r in settings.routes}
        self.client = client
        self.labels = {"site": settings.site, "component": "alerts"}
        self.log = structlog.get_logger("gridwatch.alerts.outbox")

    # --- events -> outbox rows --------------------------------------------------------------
    def route(self, limit: int = 500) -> int:
        """Turn unrouted events into one outbox row per interested route; returns events routed."""
        with self.conn.transaction():
            rows = self.conn.execute(
                f"""
                SELECT e.id, e.event, extract(epoch FROM e.at), e.actor, e.severity, e.state, e.message, e.value,
                       e.count, {alert_rows.ALERT_COLUMNS}
                FROM gw_alert_events e JOIN gw_alerts a ON a.id = e.alert_id
                WHERE e.site = %s AND NOT e.routed
                ORDER BY e.id LIMIT %s FOR UPDATE OF e SKIP LOCKED
                """,
                (self.site, limit),
            ).fetchall()
            for row in rows:
                event_id, event, at, actor = int(row[0]), str(row[1]), float(row[2]), str(row[3])
                alert = alert_rows.alert_json(tuple(row[9:]))
                alert.update(severity=row[4], state=row[5], message=row[6], value=row[7], count=int(row[8]))
                labels = dict(row[-1] or {})
                for route in self.routes.values():
                    if not wants(route, event, str(row[4])):
                        continue
                    key = f"{self.site}:{event_id}:{route.name}"
                    body: Any
                    if route.kind == "alertmanager":
                        body = payloads.alertmanager(self.site, key, alert, labels, self.settings.external_url)
                    else:
                        body = payloads.webhook(self.site, key, event, at, actor, alert)
                    self._enqueue(event_id, route.name, key, body)
            if rows:
                self.conn.execute(
                    "UPDATE gw_alert_events SET routed = true WHERE id = ANY(%s)", ([int(r[0]) for r in rows],)
                )
        return len(rows)

    def refresh_alertmanager(self, now: float) -> int:
        """Re-send open alerts to Alertmanager routes (it resolves alerts that are not re-sent)."""
        resend = self.settings.alertmanager_resend_s
        am_routes = [r for r in self.routes.values() if r.kind == "alertmanager"]
        if resend <= 0 or not am_routes:
            return 0
        slot = int(now // resend)
        count = 0
        with self.conn.transaction():
            rows = self.conn.execute(
                f"SELECT {alert_rows.ALERT_COLUMNS} FROM gw_alerts a WHERE a.site = %s AND a.state <> 'cleared'",
                (self.site,),
            ).fetchall()
            for row in rows:
                alert = alert_rows.alert_json(tuple(row))
                for route in am_routes:
                    if SEVERITY_RANK[alert["severity"]] < SEVERITY_RANK[route.min_severity.value]:
                        continue
                    key = f"{self.site}:refresh:{alert['id']}:{route.name}:{slot}"
                    body = payloads.alertmanager(self.site, key, alert, dict(row[-1] or {}), self.settings.external_url)
                    count += self._enqueue(None, route.name, key, body)
        return count

    def _enqueue(self, event_id: int | None, route: str, key: str, body: Any) -> int:
        cur = self.conn.execute(
            """
            INSERT INTO gw_alert_outbox (site, event_id, route, idempotency_key, payload)
            VALUES (%s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING
            """,
            (self.site, event_id, route, key, Jsonb(body)),
        )
        return cur.rowcount

    # --- delivery ------------------------------------------------------------------------------
    def claim(self, limit: int = 50) -> list[Claimed]:
        """Lease due rows (a crashed deliverer's lease expires, so nothing is lost), oldest first."""
        with self.conn.transaction():
            rows = self.conn.execute(
                """
                UPDATE gw_alert_outbox SET lease_until = now() + %s * interval '1 second', attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM gw_alert_outbox
                    WHERE site = %s AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
                      AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING id, route, idempotency_key, payload, attempts, extract(epoch FROM created_at)
                """,
                (LEASE_S, self.site, limit),
            ).fetchall()
        claimed = [Claimed(int(r[0]), str(r[1]), str(r[2]), r[3], int(r[4]), float(r[5])) for r in rows]
        claimed.sort(key=lambda c: c.id)
        return claimed

    def deliver(self) -> dict[str, int]:
        """Deliver what is due; after a route fails, its remaining rows wait as long as the failed one (order kept)."""
        outcome = {"delivered": 0, "retry": 0, "failed": 0}
        down: dict[str, float] = {}
        for item in self.claim():
            route = self.routes.get(item.route)
            now = time.time()
            if route is None:
                self._fail(item, "route no longer configured")
                outcome["failed"] += 1
                continue
            if item.route in down:
                self._retry(item, "an earlier notification to this route failed", delay=down[item.route])
                outcome["retry"] += 1
                continue
            error = self._send(route, item, now)
            if error is None:
                self._done(item)
                outcome["delivered"] += 1
                metrics.NOTIFICATIONS.labels(**self.labels, route=route.name, outcome="delivered").inc()
                continue
            metrics.NOTIFICATIONS.labels(**self.labels, route=route.name, outcome="error").inc()
            if now - item.created_at > self.settings.delivery_max_age_s:
                self._fail(item, error)
                outcome["failed"] += 1
            else:
                down[item.route] = self._retry(item, error)
                outcome["retry"] += 1
        return outcome

    def _send(self, route: RouteConfig, item: Claimed, now: float) -> str | None:
        url = route.target()
        if not url:
            return f"route '{route.name}' has no URL (set url or the variable {route.url_env or '?'})"
        body = item.payload
        if route.kind == "alertmanager" and isinstance(body, list):
            resend = self.settings.alertmanager_resend_s or 60.0
            for a in body:
                if "endsAt" not in a:
                    a["endsAt"] = payloads.iso(now + 4 * resend)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": item.key,
            "User-Agent": "gridwatch-alerts",
            **route.headers,
        }
        try:
            response = self.client.post(url, json=body, headers=headers, timeout=self.settings.delivery_timeout_s)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _done(self, item: Claimed) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE gw_alert_outbox SET delivered_at = now(), lease_until = NULL, last_error = NULL WHERE id = %s",
                (item.id,),
            )

    def _retry(self, item: Claimed, error: str, delay: float | None = None) -> float:
        """Schedule the next try; a row held back behind a failed one (delay given) keeps its attempt count."""
        s = self.settings
        release = delay is not None
        if delay is None:
            delay = backoff(item.attempts, s.backoff_base_s, s.backoff_max_s)
        with self.conn.transaction():
            self.conn.execute(
                """
                UPDATE gw_alert_outbox SET next_attempt_at = now() + %s * interval '1 second', lease_until = NULL,
                       last_error = %s, attempts = attempts - %s
                WHERE id = %s
                """,
                (delay, error[:1000], 1 if release else 0, item.id),
            )
        if not release:
            self.log.warning("notification failed; will retry", route=item.route, key=item.key, error=error,
                             attempts=item.attempts, retry_in_s=round(delay, 2))  # fmt: skip
        return delay

    def _fail(self, item: Claimed, error: str) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE gw_alert_outbox SET failed_at = now(), lease_until = NULL, last_error = %s WHERE id = %s",
                (error[:1000], item.id),
            )
        self.log.error("notification given up", route=item.route, key=item.key, error=error)

    def pending(self) -> int:
        """Rows not yet delivered nor given up."""
        row = self.conn.execute(
            "SELECT count(*) FROM gw_alert_outbox WHERE site = %s AND delivered_at IS NULL AND failed_at IS NULL",
            (self.site,),
        ).fetchone()
        return int(row[0]) if row else 0
