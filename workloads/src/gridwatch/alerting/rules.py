"""Rule evaluation over a snapshot of live state: which conditions hold now, after their `for` time."""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gridwatch.alerting.settings import RuleConfig
from gridwatch.common.schema import Severity, Status
from gridwatch.common.state import ProducerBeat, SensorState

PROCESSOR_RULE = "anomaly"  # alerts the processor publishes on <prefix>.alerts
SEVERITY_RANK = {Severity.INFO.value: 0, Severity.WARNING.value: 1, Severity.CRITICAL.value: 2}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Condition:
    """A rule's condition holding for one subject (sensor or producer)."""

    fingerprint: str
    rule: str
    severity: str
    message: str
    value: float | None = None
    sensor_id: str | None = None
    machine: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Snapshot:
    """Live state read from Redis at one instant."""

    now: float
    sensors: list[SensorState]
    producers: list[ProducerBeat]


def fingerprint(rule: str, subject: str) -> str:
    """Deduplication key: one open alert per rule and subject."""
    return f"{rule}:{subject}"


def processor_condition(
    state: SensorState | None, severity: str, message: str, value: float | None
) -> Condition | None:
    """A processor alert keeps firing while its sensor is not back to normal."""
    if state is None or state.status is Status.NORMAL:
        return None
    return Condition(
        fingerprint(PROCESSOR_RULE, state.id),
        PROCESSOR_RULE,
        severity,
        message,
        value,
        state.id,
        state.machine,
        {"type": state.type.value},
    )


class Evaluator:
    """Evaluates rules on successive snapshots; remembers pending `for` times and anomaly counters."""

    def __init__(self, rules: Iterable[RuleConfig]) -> None:
        self.rules = list(rules)
        self.pending: dict[str, float] = {}
        self.samples: dict[str, deque[tuple[float, int, int]]] = {}

    def evaluate(self, snap: Snapshot) -> dict[str, Condition]:
        """Conditions that hold now and have held for their rule's `for` time."""
        raw: list[tuple[RuleConfig, Condition]] = []
        self._sample(snap)
        for rule in self.rules:
            raw.extend((rule, c) for c in self._check(rule, snap))
        holding: dict[str, Condition] = {}
        seen: set[str] = set()
        for rule, cond in raw:
            seen.add(cond.fingerprint)
            since = self.pending.setdefault(cond.fingerprint, snap.now)
            if snap.now - since >= rule.for_seconds:
                holding[cond.fingerprint] = cond
        for fp in list(self.pending):
            if fp not in seen:
                del self.pending[fp]
        return holding

    def _sample(self, snap: Snapshot) -> None:
        window = max((r.window_seconds for r in self.rules if r.kind == "anomaly_persistence"), default=0.0)
        if window <= 0:
            return
        live = set()
        for st in snap.sensors:
            live.add(st.id)
            ring = self.samples.setdefault(st.id, deque())
            ring.append((snap.now, st.readings, st.anomalies))
            while len(ring) > 2 and ring[1][0] <= snap.now - window:
                ring.popleft()
        for sid in list(self.samples):
            if sid not in live:
                del self.samples[sid]

    def _check(self, rule: RuleConfig, snap: Snapshot) -> list[Condition]:
        kind = rule.kind
        sev = rule.severity.value
        out: list[Condition] = []
        if kind == "producer_down":
            for beat in snap.producers:
                age = snap.now - beat.received_at
                if age > rule.timeout_seconds:
                    out.append(
                        Condition(
                            fingerprint(rule.name, beat.producer),
                            rule.name,
                            sev,
                            f"producer {beat.producer} sent no heartbeat for {age:.0f}s "
                            f"(timeout {rule.timeout_seconds:.0f}s)",
                            round(age, 3),
                            labels={"producer": beat.producer},
                        )
                    )
            return out
        for st in snap.sensors:
            if not rule.applies_to(st.type.value):
                continue
            hit = _sensor_check(rule, st, snap.now, self.samples.get(st.id))
            if hit is not None:
                message, value = hit
                out.append(
                    Condition(
                        fingerprint(rule.name, st.id),
                        rule.name,
                        sev,
                        message,
                        value,
                        st.id,
                        st.machine,
                        {"type": st.type.value},
                    )
                )
        return out


def _sensor_check(
    rule: RuleConfig, st: SensorState, now: float, ring: deque[tuple[float, int, int]] | None
) -> tuple[str, float] | None:
    """(message, value) when the rule's condition holds for this sensor."""
    where = f"{st.type.value} sensor {st.id} on {st.machine}"
    if rule.kind == "threshold":
        assert rule.value is not None
        if _OPS[rule.op](st.value, rule.value):
            return f"{where} reads {st.value:g} {st.unit} ({rule.op} {rule.value:g})", st.value
    elif rule.kind == "failure_probability":
        assert rule.probability_above is not None
        if st.failure_probability > rule.probability_above:
            return (
                f"{where} failure probability {st.failure_probability:.2f} above {rule.probability_above:.2f}",
                st.failure_probability,
            )
    elif rule.kind == "sensor_silent":
        age = now - st.ts
        if age > rule.max_age_seconds:
            return f"{where} silent for {age:.0f}s (limit {rule.max_age_seconds:.0f}s)", round(age, 3)
    elif rule.kind == "anomaly_persistence" and ring:
        t0, readings0, anomalies0 = ring[0]
        readings = st.readings - readings0
        anomalies = st.anomalies - anomalies0
        covered = now - t0 >= rule.window_seconds / 2  # judge persistence only on a long enough look-back
        if covered and readings >= rule.min_readings and anomalies / readings >= rule.min_ratio:
            ratio = anomalies / readings
            return (
                f"{where} anomalous in {ratio:.0%} of {readings} readings over the last {now - t0:.0f}s",
                round(ratio, 4),
            )
    return None
