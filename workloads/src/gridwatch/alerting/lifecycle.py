"""The alert lifecycle as pure decisions: active -> acknowledged -> cleared, auto-clear and flap suppression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gridwatch.alerting.rules import SEVERITY_RANK, Condition

State = Literal["active", "acknowledged", "cleared"]
ActionKind = Literal["create", "reopen", "refire", "escalate", "touch", "resolve", "clear"]


@dataclass(frozen=True)
class OpenAlert:
    """What the engine needs to know of an alert that is not cleared."""

    id: int
    fingerprint: str
    rule: str
    severity: str
    state: str
    last_seen: float
    resolved_since: float | None


@dataclass(frozen=True)
class ClearedAlert:
    """A cleared alert that may be reopened."""

    id: int
    fingerprint: str
    cleared_at: float


@dataclass(frozen=True)
class Timing:
    """Lifecycle timings (seconds)."""

    clear_after: float = 30.0
    reopen_window: float = 600.0
    touch_interval: float = 30.0


@dataclass(frozen=True)
class Action:
    """One change to apply to the alerts table (and, for most kinds, one event to record)."""

    kind: ActionKind
    fingerprint: str
    alert_id: int | None = None
    condition: Condition | None = None
    counts: bool = False  # adds one occurrence to the alert's count (re-fires, reopens, discrete events)


def on_condition(
    cond: Condition, open_alert: OpenAlert | None, cleared: ClearedAlert | None, now: float, timing: Timing
) -> Action:
    """What a holding condition does: open, reopen within the window, re-fire after a resolve, escalate, touch."""
    fp = cond.fingerprint
    if open_alert is None:
        if cleared is not None and now - cleared.cleared_at <= timing.reopen_window:
            return Action("reopen", fp, cleared.id, cond)
        return Action("create", fp, None, cond)
    if open_alert.resolved_since is not None:
        return Action("refire", fp, open_alert.id, cond, counts=True)
    if SEVERITY_RANK[cond.severity] > SEVERITY_RANK[open_alert.severity]:
        return Action("escalate", fp, open_alert.id, cond)
    return Action("touch", fp, open_alert.id, cond)


def on_event(
    cond: Condition, open_alert: OpenAlert | None, cleared: ClearedAlert | None, now: float, timing: Timing
) -> Action:
    """A discrete alert (from the processor) always counts: on an open alert it is a re-fire unless it escalates."""
    action = on_condition(cond, open_alert, cleared, now, timing)
    if action.kind in ("touch", "refire"):
        return Action("refire", action.fingerprint, action.alert_id, cond, counts=True)
    if action.kind == "escalate":
        return Action("escalate", action.fingerprint, action.alert_id, cond, counts=True)
    return action


def reconcile(
    open_alerts: dict[str, OpenAlert],
    holding: dict[str, Condition],
    cleared: dict[str, ClearedAlert],
    now: float,
    timing: Timing,
) -> list[Action]:
    """Compare what holds with what is open: the actions that bring the table up to date.

    A resolved condition must stay resolved for `clear_after` seconds before the alert clears; a condition
    that comes back meanwhile re-fires the same alert (count + 1) without a new notification, and one that
    comes back within `reopen_window` after the clear reopens it.
    """
    actions: list[Action] = []
    for fp, cond in holding.items():
        action = on_condition(cond, open_alerts.get(fp), cleared.get(fp), now, timing)
        if action.kind == "touch":
            alert = open_alerts[fp]
            if now - alert.last_seen < timing.touch_interval:
                continue
        actions.append(action)
    for fp, alert in open_alerts.items():
        if fp in holding:
            continue
        if alert.resolved_since is None:
            actions.append(Action("resolve", fp, alert.id))
        elif now - alert.resolved_since >= timing.clear_after:
            actions.append(Action("clear", fp, alert.id))
    return actions
