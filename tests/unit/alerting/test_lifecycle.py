"""Alert lifecycle decisions: dedupe, touch throttling, auto-clear after the hold, flaps, reopen, escalation."""

from __future__ import annotations

from gridwatch.alerting.lifecycle import (
    ClearedAlert,
    OpenAlert,
    Timing,
    on_event,
    reconcile,
)
from gridwatch.alerting.rules import Condition
from gridwatch.common.alert_rows import transition_error

T = Timing(clear_after=30, reopen_window=600, touch_interval=30)


def cond(fp: str = "r:s1", severity: str = "warning") -> Condition:
    return Condition(fp, "r", severity, "msg", 1.0, "s1", "m1")


def opened(fp: str = "r:s1", resolved_since: float | None = None, severity: str = "warning") -> OpenAlert:
    return OpenAlert(7, fp, "r", severity, "active", 100.0, resolved_since)


def kinds(actions: list) -> list[tuple[str, str, int | None]]:  # type: ignore[type-arg]
    return [(a.kind, a.fingerprint, a.alert_id) for a in actions]


def test_new_condition_creates_one_alert_and_repeats_only_touch() -> None:
    assert kinds(reconcile({}, {"r:s1": cond()}, {}, 100, T)) == [("create", "r:s1", None)]
    assert reconcile({"r:s1": opened()}, {"r:s1": cond()}, {}, 110, T) == []  # deduplicated, touch throttled
    assert kinds(reconcile({"r:s1": opened()}, {"r:s1": cond()}, {}, 131, T)) == [("touch", "r:s1", 7)]


def test_auto_clear_only_after_staying_resolved() -> None:
    assert kinds(reconcile({"r:s1": opened()}, {}, {}, 200, T)) == [("resolve", "r:s1", 7)]
    assert reconcile({"r:s1": opened(resolved_since=200)}, {}, {}, 229, T) == []
    assert kinds(reconcile({"r:s1": opened(resolved_since=200)}, {}, {}, 230, T)) == [("clear", "r:s1", 7)]


def test_flap_during_the_hold_refires_the_same_alert() -> None:
    actions = reconcile({"r:s1": opened(resolved_since=200)}, {"r:s1": cond()}, {}, 210, T)
    assert kinds(actions) == [("refire", "r:s1", 7)] and actions[0].counts


def test_firing_again_after_clear_reopens_within_the_window_only() -> None:
    cleared = {"r:s1": ClearedAlert(7, "r:s1", 1000)}
    assert kinds(reconcile({}, {"r:s1": cond()}, cleared, 1500, T)) == [("reopen", "r:s1", 7)]
    assert kinds(reconcile({}, {"r:s1": cond()}, cleared, 1601, T)) == [("create", "r:s1", None)]


def test_escalation_and_processor_events() -> None:
    actions = reconcile({"r:s1": opened()}, {"r:s1": cond(severity="critical")}, {}, 101, T)
    assert kinds(actions) == [("escalate", "r:s1", 7)]
    assert on_event(cond(), opened(), None, 101, T).kind == "refire"  # a repeated processor alert counts
    escalated = on_event(cond(severity="critical"), opened(), None, 101, T)
    assert escalated.kind == "escalate" and escalated.counts  # every processor alert is an occurrence
    assert not actions[0].counts  # a rule's condition getting worse is not a new occurrence
    assert on_event(cond(), None, None, 101, T).kind == "create"


def test_manual_transitions() -> None:
    assert transition_error("ack", "active") is None
    assert transition_error("clear", "active") is None
    assert transition_error("clear", "acknowledged") is None
    assert "acknowledged" in (transition_error("ack", "acknowledged") or "")
    assert transition_error("ack", "cleared") is not None
    assert transition_error("clear", "cleared") is not None
