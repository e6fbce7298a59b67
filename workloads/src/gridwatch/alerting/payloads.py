"""The alert JSON the API returns and the notification payloads (generic webhook, Alertmanager v2)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def iso(ts: float) -> str:
    """RFC 3339 UTC time."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def webhook(site: str, key: str, event: str, at: float, actor: str, alert: dict[str, Any]) -> dict[str, Any]:
    """Generic webhook body: the event and the alert as it was when the event happened."""
    return {
        "version": 1,
        "idempotency_key": key,
        "site": site,
        "event": event,
        "at": at,
        "actor": actor,
        "alert": alert,
    }


def alertmanager(
    site: str, key: str, alert: dict[str, Any], labels: dict[str, Any], external_url: str
) -> list[dict[str, Any]]:
    """Alertmanager v2 `POST /api/v2/alerts` body: endsAt is set for cleared alerts (and at send time for firing)."""
    label_set = {
        "alertname": str(alert["rule"]),
        "site": site,
        "severity": str(alert["severity"]),
        "fingerprint": str(alert["fingerprint"]),
    }
    if alert.get("sensor_id"):
        label_set["sensor"] = str(alert["sensor_id"])
    if alert.get("machine"):
        label_set["machine"] = str(alert["machine"])
    for k, v in labels.items():
        label_set.setdefault(str(k), str(v))
    item: dict[str, Any] = {
        "labels": label_set,
        "annotations": {
            "summary": str(alert["message"]),
            "state": str(alert["state"]),
            "count": str(alert["count"]),
            "gridwatch_alert_id": str(alert["id"]),
            "idempotency_key": key,
        },
        "startsAt": iso(float(alert["first_seen"])),
    }
    if external_url:
        item["generatorURL"] = f"{external_url.rstrip('/')}/alerts/{alert['id']}"
    if alert["state"] == "cleared" and alert.get("cleared_at"):
        item["endsAt"] = iso(float(alert["cleared_at"]))
    return [item]
