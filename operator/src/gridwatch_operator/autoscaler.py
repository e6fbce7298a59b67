"""Processor replicas from Kafka consumer lag: the pure decision, unit-tested without a cluster.

desired = ceil(lag / lagPerReplica), the lag in the policy's unit (readings by default, or messages: see
readings.py for how readings are counted), clamped to [minReplicas, maxReplicas] and to the partition
count (a consumer group cannot use more members than partitions). Scale-up is immediate, except
that it waits (at most SETTLE_SECONDS after the last change) while processors added by the last
change are not ready yet: the lag they have not started to absorb says nothing about the
capacity they add, and scaling on it would step up once per poll. Scale-down waits until
cooldownSeconds have passed since the last change, so a burst that was just absorbed does not
make the group rebalance twice. Nor does it go below what the measured input rate needs (capacity.py): with the
input rate and one processor's measured drain rate known, a scale-down keeps ceil(rate / (capacity x 0.8))
processors, so steady load that N processors keep up with does not scale them to minReplicas and straight back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SETTLE_SECONDS = 180.0  # longest a scale-up waits for the processors of the previous one to become ready


@dataclass(frozen=True)
class Policy:
    """spec.processor.autoscaling."""

    min_replicas: int = 1
    max_replicas: int = 4
    lag_per_replica: int = 25000
    cooldown_seconds: float = 300.0
    lag_unit: str = "readings"
    engine: str = "Operator"  # Operator: decide() below; KEDA: a ScaledObject scales (keda.py)
    readings_per_message: int = 500  # engine KEDA: readings -> KEDA's messages (keda.thresholds)
    activation_lag: int = 0  # engine KEDA: activationLagThreshold, in lag_unit

    @classmethod
    def from_spec(cls, autoscaling: Mapping[str, Any]) -> Policy:
        """Read the CRD's autoscaling block (already defaulted by the API server)."""
        return cls(
            min_replicas=int(autoscaling.get("minReplicas", 1)),
            max_replicas=int(autoscaling.get("maxReplicas", 4)),
            lag_per_replica=int(autoscaling.get("lagPerReplica", 25000)),
            cooldown_seconds=float(autoscaling.get("cooldownSeconds", 300)),
            lag_unit=str(autoscaling.get("lagUnit") or "readings"),
            engine=str(autoscaling.get("engine") or "Operator"),
            readings_per_message=max(1, int(autoscaling.get("readingsPerMessage", 500))),
            activation_lag=max(0, int(autoscaling.get("activationLag", 0))),
        )


@dataclass(frozen=True)
class Decision:
    """What to run next and why."""

    current: int
    replicas: int
    lag: int | None
    reason: str

    @property
    def changed(self) -> bool:
        """True when the replicas differ from what runs now."""
        return self.replicas != self.current

    @property
    def direction(self) -> str:
        """up, down or none."""
        if self.replicas > self.current:
            return "up"
        if self.replicas < self.current:
            return "down"
        return "none"


def target(policy: Policy, lag: int, partitions: int) -> tuple[int, str]:
    """Replicas the lag asks for after every clamp, with the clamp that decided it."""
    wanted = math.ceil(max(lag, 0) / policy.lag_per_replica)
    why = f"lag {lag} {policy.lag_unit} / {policy.lag_per_replica} per replica = {wanted}"
    replicas = wanted
    if replicas < policy.min_replicas:
        replicas, why = policy.min_replicas, f"{why}, raised to minReplicas {policy.min_replicas}"
    if replicas > policy.max_replicas:
        replicas, why = policy.max_replicas, f"{why}, capped at maxReplicas {policy.max_replicas}"
    if partitions >= 1 and replicas > partitions:
        replicas, why = partitions, f"{why}, capped at {partitions} partitions"
    return max(replicas, 1), why


def decide(
    policy: Policy,
    current: int,
    lag: int | None,
    partitions: int,
    now: float,
    last_scale_time: float | None,
    ready: int | None = None,
    needed: int | None = None,
    throughput: str = "",
) -> Decision:
    """Next processor replicas. `lag` None means it could not be measured: keep what runs
    (only pulled back inside [min, max] if the bounds changed). `ready` is how many processors are
    ready (None: unknown, never holds a scale-up). `needed` is how many the measured input rate needs
    (None: not measured, the scale-down follows the lag alone); `throughput` says what was measured."""
    if lag is None:
        bounded = max(policy.min_replicas, min(policy.max_replicas, current))
        reason = "lag unknown; keeping replicas" if bounded == current else "lag unknown; applying new bounds"
        return Decision(current, bounded, None, reason)
    replicas, why = target(policy, lag, partitions)
    if replicas > current:
        joining = ready is not None and ready < current and last_scale_time is not None
        if joining and now - (last_scale_time or now) < SETTLE_SECONDS:
            return Decision(
                current,
                current,
                lag,
                f"scale up to {replicas} held: {ready} of {current} processors ready, the last ones still joining: "
                f"{why}",
            )
        return Decision(current, replicas, lag, f"scale up: {why}")
    if replicas < current:
        ceiling = min(policy.max_replicas, partitions) if partitions >= 1 else policy.max_replicas
        if current > ceiling:
            if needed is not None and needed > replicas:
                replicas, why = min(needed, ceiling), f"{why}, kept {min(needed, ceiling)} for {throughput}"
            return Decision(current, replicas, lag, f"scale down at once, above the allowed maximum {ceiling}: {why}")
        if needed is not None and needed > replicas:
            floor = min(needed, current)
            if floor >= current:
                return Decision(
                    current, current, lag, f"scale down to {replicas} held: {throughput} needs {needed}: {why}"
                )
            replicas, why = floor, f"{why}, kept {floor} for {throughput}"
        if last_scale_time is not None and policy.cooldown_seconds > 0:
            waited = now - last_scale_time
            if waited < policy.cooldown_seconds:
                left = math.ceil(policy.cooldown_seconds - waited)
                return Decision(
                    current,
                    current,
                    lag,
                    f"scale down to {replicas} held by cooldown ({left}s of {policy.cooldown_seconds:g}s left): {why}",
                )
        return Decision(current, replicas, lag, f"scale down: {why}")
    return Decision(current, current, lag, f"steady: {why}")
