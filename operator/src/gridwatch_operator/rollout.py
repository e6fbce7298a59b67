"""Rollout control: when a site may move to the operator's chart (policy, approved version, maintenance windows).

A site whose release runs another chart than the operator's has an upgrade pending. It is rolled out at once
(policy Automatic, no windows), in the next maintenance window, or, with policy Manual, only once
spec.upgrade.chartVersion names the operator's chart version. Until then config changes are still applied at
once, on the chart the site runs (rebuilt from helm's release record), so only the chart's own change waits.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gridwatch_operator import chartstore
from gridwatch_operator.helm import Helm, Outcome, Release, chart_digest, values_digest
from gridwatch_operator.maintenance import Window, next_opening, open_until, windows

AUTOMATIC, MANUAL, INHERIT = "Automatic", "Manual", "Inherit"
UPGRADE_PENDING = "UpgradePending"


@dataclass(frozen=True)
class Policy:
    """The site's effective upgrade policy (spec.upgrade, or the operator's siteUpgrades for Inherit)."""

    policy: str = AUTOMATIC
    chart_version: str = ""
    windows: tuple[Window, ...] = ()
    inherited: bool = False

    @classmethod
    def resolve(
        cls, upgrade: Mapping[str, Any] | None, default_policy: str, default_windows: list[dict[str, Any]]
    ) -> Policy:
        """spec.upgrade over the operator-wide default (raises maintenance.ScheduleError on a bad schedule)."""
        upgrade = upgrade or {}
        chosen = str(upgrade.get("policy") or INHERIT)
        version = str(upgrade.get("chartVersion") or "")
        if chosen == INHERIT:
            return cls(default_policy, version, windows(default_windows), inherited=True)
        return cls(chosen, version, windows(upgrade.get("maintenanceWindows") or []))

    def describe(self) -> str:
        """policy (and where it came from) for messages."""
        return f"{self.policy} (the operator's default)" if self.inherited else self.policy


@dataclass(frozen=True)
class Gate:
    """Whether an upgrade to the operator's chart may start now, and why not."""

    open: bool
    reason: str
    message: str
    next_window: dt.datetime | None = None


def stamp(moment: dt.datetime | None) -> str | None:
    """RFC 3339, seconds, Z."""
    return None if moment is None else moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()[:-6] + "Z"


def gate(policy: Policy, available: str, now: dt.datetime) -> Gate:
    """May the site move to chart `available` at `now`?"""
    if policy.policy == MANUAL and policy.chart_version != available:
        asked = f"spec.upgrade.chartVersion is {policy.chart_version!r}" if policy.chart_version else "none approved"
        return Gate(
            False,
            "AwaitingApproval",
            f"policy {policy.describe()}: chart {available} waits for approval ({asked}; "
            f"set spec.upgrade.chartVersion: {available!r} to roll it out)",
        )
    if policy.windows:
        closes = open_until(policy.windows, now)
        if closes is None:
            nxt = next_opening(policy.windows, now)
            when = f"the next maintenance window opens {stamp(nxt)}" if nxt else "no maintenance window ever opens"
            return Gate(False, "OutsideMaintenanceWindow", f"chart {available} waits: {when}", nxt)
        return Gate(True, "InMaintenanceWindow", f"inside a maintenance window until {stamp(closes)}")
    return Gate(True, "Allowed", f"policy {policy.describe()}")


def on_operator_chart(helm: Helm, release: Release) -> bool:
    """Whether the release was made from the operator's chart (by content; by version for records before 0.2.0)."""
    if release.chart_id is not None:
        return release.chart_id == helm.chart_id()
    return release.chart_version == helm.chart_version()


def _normalized(value: Any) -> Any:
    """Values as helm returns them: whole floats read back as integers."""
    if isinstance(value, dict):
        return {str(k): _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Result:
    """What ensure() did and the status.upgrade block to record."""

    outcome: Outcome
    status: dict[str, Any]


def ensure(
    helm: Helm,
    name: str,
    namespace: str,
    values: Mapping[str, Any],
    policy: Policy,
    now: dt.datetime,
    *,
    apply_held: bool = True,
) -> Result:
    """The release with these values: on the operator's chart when the gate allows, else on the chart it runs.

    While held, values are applied only with `apply_held` (a spec or scale change): values that differ only because
    a new operator maps an unchanged spec differently are part of the upgrade and wait with it.
    """
    available = helm.chart_version()
    current = helm.status(name, namespace)
    if current is not None and not current.chart_version and current.chart_id != helm.chart_id():
        current = replace(current, chart_version=helm.deployed_chart_version(name, namespace))
    # a failed revision on the held chart stays held too (retried on that chart, never on the operator's)
    held_states = ("deployed", "failed")
    pending = current is not None and current.status in held_states and not on_operator_chart(helm, current)
    verdict = gate(policy, available, now) if pending else Gate(True, "UpToDate", "")
    block: dict[str, Any] = {"policy": policy.policy, "availableChartVersion": available}
    if current is None or not pending or verdict.open:
        outcome = helm.ensure(name, namespace, values)
        running = outcome.release.chart_version or available
        message = f"running chart {running}, the operator's"
        if pending:
            message = f"upgraded from chart {current.chart_version if current else '?'} to {running}: {verdict.message}"
        return Result(
            outcome,
            {
                **block,
                "pending": False,
                "reason": "UpToDate",
                "message": message,
                "runningChartVersion": running,
                "nextWindow": None,
            },
        )
    assert current is not None  # pending implies a deployed release
    outcome = _hold(helm, current, values) if apply_held else _kept(helm, current)
    return Result(
        outcome,
        {
            **block,
            "pending": True,
            "reason": verdict.reason,
            "message": f"running chart {current.chart_version}; {verdict.message}",
            "runningChartVersion": current.chart_version,
            "nextWindow": stamp(verdict.next_window),
        },
    )


def prune(values: Any, schema: Mapping[str, Any]) -> Any:
    """The values an older chart's values.schema.json accepts: keys it does not know (settings of features it
    lacks, which `additionalProperties: false` would refuse) are dropped, recursively."""
    if isinstance(values, dict) and schema.get("type") == "object":
        props = schema.get("properties") or {}
        closed = schema.get("additionalProperties") is False
        out = {}
        for key, value in values.items():
            if key in props:
                out[key] = prune(value, props[key])
            elif not closed:
                out[key] = value
        return out
    if isinstance(values, list) and isinstance(schema.get("items"), dict):
        return [prune(v, schema["items"]) for v in values]
    return values


def _held_schema(record: Mapping[str, Any]) -> dict[str, Any]:
    raw = (record.get("chart") or {}).get("schema")
    if not raw:
        return {}
    schema: dict[str, Any] = json.loads(base64.b64decode(raw))
    return schema


def _kept(helm: Helm, current: Release) -> Outcome:
    """The release as it is (no helm upgrade)."""
    manifest = current.manifest or helm.manifest(current.name, current.namespace)
    return Outcome(replace(current, manifest=manifest), current.digest or "", changed=False)


def _hold(helm: Helm, current: Release, values: Mapping[str, Any]) -> Outcome:
    """Apply the values on the chart the release runs (no revision when they are the deployed ones)."""
    name, namespace = current.name, current.namespace
    record = helm.record(name, namespace, current.revision)
    values = prune(dict(values), _held_schema(record))
    same = current.status == "deployed" and _normalized(helm.values(name, namespace)) == _normalized(values)
    if same:
        return _kept(helm, current)
    with tempfile.TemporaryDirectory(prefix="gridwatch-held-chart-") as tmp:
        chart = chartstore.write_chart(record, Path(tmp))
        digest = values_digest(chart_digest(chart), values)
        return helm.upgrade(name, namespace, chart, values, digest, current.chart_id)


def condition(status: Mapping[str, Any]) -> dict[str, str]:
    """The UpgradePending condition from status.upgrade (False with reason UpToDate before any is recorded)."""
    block = status.get("upgrade") or {}
    if block.get("pending"):
        return {
            "type": UPGRADE_PENDING,
            "status": "True",
            "reason": str(block.get("reason") or "Held"),
            "message": str(block.get("message") or ""),
        }
    running = block.get("runningChartVersion")
    message = f"running chart {running}, the operator's" if running else "no chart upgrade waiting"
    return {"type": UPGRADE_PENDING, "status": "False", "reason": "UpToDate", "message": message}
