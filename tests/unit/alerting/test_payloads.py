"""Notification payloads, route filtering and retry backoff."""

from __future__ import annotations

import random

import pytest
from gridwatch.alerting.outbox import backoff, wants
from gridwatch.alerting.payloads import alertmanager, iso, webhook
from gridwatch.alerting.settings import RouteConfig

ALERT = {
    "id": 12,
    "fingerprint": "anomaly:m1-power",
    "rule": "anomaly",
    "sensor_id": "m1-power",
    "machine": "m1",
    "severity": "critical",
    "state": "active",
    "message": "power sensor m1-power is critical",
    "value": 0.9,
    "count": 2,
    "first_seen": 1_700_000_000.0,
    "last_seen": 1_700_000_100.0,
    "acknowledged_at": None,
    "acknowledged_by": None,
    "cleared_at": None,
}


def test_alertmanager_payload() -> None:
    [item] = alertmanager("plant-a", "plant-a:5:am", ALERT, {"type": "power"}, "https://ui.example")
    assert item["labels"] == {
        "alertname": "anomaly",
        "site": "plant-a",
        "severity": "critical",
        "fingerprint": "anomaly:m1-power",
        "sensor": "m1-power",
        "machine": "m1",
        "type": "power",
    }
    assert item["startsAt"] == "2023-11-14T22:13:20Z" and "endsAt" not in item
    assert item["generatorURL"] == "https://ui.example/alerts/12"
    assert item["annotations"]["idempotency_key"] == "plant-a:5:am"
    cleared = {**ALERT, "state": "cleared", "cleared_at": 1_700_000_200.0}
    [done] = alertmanager("plant-a", "k", cleared, {}, "")
    assert done["endsAt"] == iso(1_700_000_200.0) and "generatorURL" not in done


def test_webhook_payload_and_route_filter() -> None:
    body = webhook("plant-a", "plant-a:5:ops", "fired", 1.0, "engine", ALERT)
    assert body["idempotency_key"] == "plant-a:5:ops" and body["alert"]["id"] == 12 and body["event"] == "fired"
    hook = RouteConfig.model_validate({"name": "ops", "url": "http://x", "minSeverity": "warning"})
    am = RouteConfig(name="am", kind="alertmanager", url="http://am")
    assert wants(hook, "fired", "critical") and not wants(hook, "fired", "info")
    assert wants(hook, "acknowledged", "warning") and not wants(am, "acknowledged", "warning")
    assert not wants(hook, "refired", "critical")  # flaps are counted, not notified
    assert wants(am, "cleared", "critical")


def test_backoff_doubles_up_to_the_cap() -> None:
    rng = random.Random(3)
    delays = [backoff(n, 1.0, 30.0, rng) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        assert min(30.0, 2.0 ** (n - 1)) * 0.8 <= d <= min(30.0, 2.0 ** (n - 1)) * 1.2
    assert delays[-1] == pytest.approx(30.0, rel=0.2)
