"""An alert row as the API and the alert engine's notifications show it, and the manual transitions allowed."""

from __future__ import annotations

from typing import Any

# API transitions: which states each manual action may start from.
TRANSITIONS: dict[str, tuple[str, ...]] = {"ack": ("active",), "clear": ("active", "acknowledged")}

# Columns selected wherever an alert is turned into JSON (see alert_json).
ALERT_COLUMNS = """
    a.id, a.fingerprint, a.rule, a.sensor_id, a.machine, a.severity, a.state, a.message, a.value, a.count,
    extract(epoch FROM a.first_seen), extract(epoch FROM a.last_seen), extract(epoch FROM a.acknowledged_at),
    a.acknowledged_by, extract(epoch FROM a.cleared_at), a.labels
"""


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def alert_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """An alert as the API returns it, from a row selected with ALERT_COLUMNS."""
    return {
        "id": int(row[0]),
        "fingerprint": row[1],
        "rule": row[2],
        "sensor_id": row[3],
        "machine": row[4],
        "severity": row[5],
        "state": row[6],
        "message": row[7],
        "value": _f(row[8]),
        "count": int(row[9]),
        "first_seen": float(row[10]),
        "last_seen": float(row[11]),
        "acknowledged_at": _f(row[12]),
        "acknowledged_by": row[13],
        "cleared_at": _f(row[14]),
    }


def transition_error(action: str, state: str) -> str | None:
    """Why a manual `action` ('ack' or 'clear') is not allowed from `state`, or None when it is."""
    allowed = TRANSITIONS[action]
    if state in allowed:
        return None
    verb = "acknowledge" if action == "ack" else "clear"
    return f"cannot {verb} an alert that is {state} (allowed from: {', '.join(allowed)})"
