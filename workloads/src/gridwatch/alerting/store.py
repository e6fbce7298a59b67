"""PostgreSQL side of the alert engine: open alerts, applying lifecycle actions and events (ledger: common.db)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from gridwatch.alerting.lifecycle import Action, ClearedAlert, OpenAlert
from gridwatch.common.db.ledger import OffsetLedger

CONSUMER = "alerts"
LEDGER = OffsetLedger(CONSUMER)
ACTOR = "engine"
# Which action records which event; None records nothing (a resolve only starts the clear timer).
EVENT_OF: dict[str, str | None] = {
    "create": "fired",
    "reopen": "reopened",
    "refire": "refired",
    "escalate": "escalated",
    "touch": None,
    "resolve": None,
    "clear": "cleared",
}

_EVENT = """
INSERT INTO gw_alert_events (alert_id, site, event, at, actor, severity, state, message, value, count)
SELECT id, site, %s, to_timestamp(%s), %s, severity, state, message, value, count FROM gw_alerts WHERE id = %s
"""


def load_open(conn: psycopg.Connection[TupleRow], site: str) -> dict[str, OpenAlert]:
    """Alerts not cleared, locked for this transaction so API acks and clears wait for it."""
    rows = conn.execute(
        """
        SELECT id, fingerprint, rule, severity, state, extract(epoch FROM last_seen),
               extract(epoch FROM resolved_since)
        FROM gw_alerts WHERE site = %s AND state <> 'cleared' FOR UPDATE
        """,
        (site,),
    ).fetchall()
    return {
        str(r[1]): OpenAlert(
            int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), float(r[5]), None if r[6] is None else float(r[6])
        )
        for r in rows
    }


def load_cleared(
    conn: psycopg.Connection[TupleRow], site: str, fingerprints: Iterable[str], since: float
) -> dict[str, ClearedAlert]:
    """The most recent alert cleared after `since` for each fingerprint, locked."""
    fps = sorted(set(fingerprints))
    if not fps:
        return {}
    rows = conn.execute(
        """
        SELECT id, fingerprint, extract(epoch FROM cleared_at) FROM gw_alerts
        WHERE id IN (
            SELECT DISTINCT ON (fingerprint) id FROM gw_alerts
            WHERE site = %s AND state = 'cleared' AND fingerprint = ANY(%s) AND cleared_at >= to_timestamp(%s)
            ORDER BY fingerprint, cleared_at DESC, id DESC)
        FOR UPDATE
        """,
        (site, fps, since),
    ).fetchall()
    return {str(r[1]): ClearedAlert(int(r[0]), str(r[1]), float(r[2])) for r in rows}


def load_marks(conn: psycopg.Connection[TupleRow], site: str, fingerprints: Iterable[str]) -> dict[str, float]:
    """The reading timestamp of the newest processor alert applied per fingerprint, locked."""
    fps = sorted(set(fingerprints))
    if not fps:
        return {}
    rows = conn.execute(
        "SELECT fingerprint, event_ts FROM gw_alert_event_marks WHERE site = %s AND fingerprint = ANY(%s) FOR UPDATE",
        (site, fps),
    ).fetchall()
    return {str(r[0]): float(r[1]) for r in rows}


def save_marks(conn: psycopg.Connection[TupleRow], site: str, marks: dict[str, float]) -> None:
    """Raise the marks of these fingerprints to the given reading timestamps (never lowers one)."""
    if not marks:
        return
    fps, ts = zip(*sorted(marks.items()), strict=True)
    conn.execute(
        """
        INSERT INTO gw_alert_event_marks (site, fingerprint, event_ts)
        SELECT %s, f, t FROM unnest(%s::text[], %s::double precision[]) AS m(f, t)
        ON CONFLICT (site, fingerprint) DO UPDATE
            SET event_ts = GREATEST(gw_alert_event_marks.event_ts, EXCLUDED.event_ts)
        """,
        (site, list(fps), list(ts)),
    )


def apply(conn: psycopg.Connection[TupleRow], site: str, actions: Sequence[Action], now: float) -> list[int | None]:
    """Apply actions inside the caller's transaction, recording their events; returns the alert ids."""
    ids: list[int | None] = []
    for action in actions:
        alert_id = _apply_one(conn, site, action, now)
        event = EVENT_OF[action.kind]
        if event is not None and alert_id is not None:
            conn.execute(_EVENT, (event, now, ACTOR, alert_id))
        ids.append(alert_id)
    return ids


def _apply_one(conn: psycopg.Connection[TupleRow], site: str, a: Action, now: float) -> int | None:
    c = a.condition
    if a.kind == "create":
        assert c is not None
        row = conn.execute(
            """
            INSERT INTO gw_alerts (site, fingerprint, rule, sensor_id, machine, severity, state, message, value,
                                   count, first_seen, last_seen, labels)
            VALUES (%s, %s, %s, %s, %s, %s, 'active', %s, %s, 1, to_timestamp(%s), to_timestamp(%s), %s)
            RETURNING id
            """,
            (site, c.fingerprint, c.rule, c.sensor_id, c.machine, c.severity, c.message, c.value, now, now,
             Jsonb(c.labels)),
        ).fetchone()  # fmt: skip
        return None if row is None else int(row[0])
    if a.kind == "reopen":
        assert c is not None
        conn.execute(
            """
            UPDATE gw_alerts SET state = 'active', severity = %s, message = %s, value = %s, count = count + 1,
                   last_seen = to_timestamp(%s), cleared_at = NULL, cleared_by = NULL, acknowledged_at = NULL,
                   acknowledged_by = NULL, resolved_since = NULL
            WHERE id = %s
            """,
            (c.severity, c.message, c.value, now, a.alert_id),
        )
    elif a.kind in ("refire", "escalate", "touch"):
        assert c is not None
        conn.execute(
            """
            UPDATE gw_alerts SET
                severity = CASE WHEN %(rank)s > CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END
                                THEN %(severity)s ELSE severity END,
                message = COALESCE(NULLIF(%(message)s, ''), message), value = %(value)s,
                last_seen = to_timestamp(%(now)s), resolved_since = NULL,
                count = count + %(inc)s
            WHERE id = %(id)s
            """,
            {
                "rank": {"info": 0, "warning": 1, "critical": 2}[c.severity],
                "severity": c.severity,
                "message": c.message,
                "value": c.value,
                "now": now,
                "inc": 1 if a.counts else 0,
                "id": a.alert_id,
            },
        )
    elif a.kind == "resolve":
        conn.execute("UPDATE gw_alerts SET resolved_since = to_timestamp(%s) WHERE id = %s", (now, a.alert_id))
    elif a.kind == "clear":
        conn.execute(
            """
            UPDATE gw_alerts SET state = 'cleared', cleared_at = to_timestamp(%s), cleared_by = 'auto'
            WHERE id = %s AND state <> 'cleared'
            """,
            (now, a.alert_id),
        )
    return a.alert_id


def purge(conn: psycopg.Connection[TupleRow], site: str, retention_days: int) -> dict[str, Any]:
    """Delete cleared alerts and delivered or failed notifications older than the retention."""
    with conn.transaction():
        alerts = conn.execute(
            "DELETE FROM gw_alerts"
            " WHERE site = %s AND state = 'cleared' AND cleared_at < now() - %s * interval '1 day'",
            (site, retention_days),
        ).rowcount
        outbox = conn.execute(
            """
            DELETE FROM gw_alert_outbox WHERE site = %s
              AND coalesce(delivered_at, failed_at) < now() - %s * interval '1 day'
            """,
            (site, min(retention_days, 7)),
        ).rowcount
    return {"alerts": alerts, "outbox": outbox}
