"""KEDA as the processors' autoscaler (engine KEDA): thresholds converted to messages, chart values, the condition.

KEDA's kafka scaler measures lag in Kafka messages; the operator's lagPerReplica is in lagUnit (readings by
default). With lagUnit readings the thresholds are converted with spec.processor.autoscaling.readingsPerMessage:
lagThreshold = ceil(lagPerReplica / readingsPerMessage) messages (at least 1), the same for activationLag. KEDA then
asks for ceil(lag in messages / lagThreshold) processors, which is the operator's ceil(lag in readings /
lagPerReplica) when the waiting messages carry readingsPerMessage readings each (full gateway batches: 500).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gridwatch_operator.autoscaler import Policy

OPERATOR, KEDA = "Operator", "KEDA"
CONDITION = "KEDAScaling"
SCALEDOBJECTS = "scaledobjects.keda.sh"
API_VERSION = "keda.sh/v1alpha1"


@dataclass(frozen=True)
class Thresholds:
    """The kafka trigger's thresholds, in Kafka messages, and how they were derived."""

    lag_threshold: int
    activation_lag_threshold: int
    conversion: str


def thresholds(policy: Policy) -> Thresholds:
    """lagPerReplica and activationLag (lagUnit) as KEDA's lagThreshold and activationLagThreshold (messages)."""
    if policy.lag_unit == "messages":
        return Thresholds(
            policy.lag_per_replica,
            policy.activation_lag,
            f"lagUnit messages: lagThreshold = lagPerReplica = {policy.lag_per_replica} messages",
        )
    per = max(1, policy.readings_per_message)
    lag = max(1, math.ceil(policy.lag_per_replica / per))
    activation = math.ceil(policy.activation_lag / per)
    return Thresholds(
        lag,
        activation,
        f"lagThreshold = ceil({policy.lag_per_replica} readings / {per} readings per message) = {lag} messages",
    )


def bounds(policy: Policy, partitions: int) -> tuple[int, int]:
    """minReplicaCount and maxReplicaCount: the spec's bounds capped at the partitions (as the chart renders them)."""
    cap = partitions if partitions >= 1 else policy.max_replicas
    return min(policy.min_replicas, cap), min(policy.max_replicas, cap)


def chart_values(policy: Policy) -> dict[str, Any]:
    """The chart's processor.keda block (the chart caps the replicas at kafka.partitions itself)."""
    found = thresholds(policy)
    return {
        "enabled": True,
        "minReplicas": policy.min_replicas,
        "maxReplicas": policy.max_replicas,
        "lagThreshold": found.lag_threshold,
        "activationLagThreshold": found.activation_lag_threshold,
        "cooldownSeconds": int(policy.cooldown_seconds),
    }


def status_block(policy: Policy, partitions: int, available: bool, scaled_object: str) -> dict[str, Any]:
    """status.scaling for engine KEDA: who scales, the ScaledObject and its thresholds in messages."""
    found = thresholds(policy)
    low, high = bounds(policy, partitions)
    return {
        "engine": KEDA,
        "keda": {
            "available": available,
            "scaledObject": scaled_object if available else "",
            "lagThresholdMessages": found.lag_threshold,
            "activationLagThresholdMessages": found.activation_lag_threshold,
            "conversion": found.conversion,
            "minReplicas": low,
            "maxReplicas": high,
        },
    }


def condition(status: Mapping[str, Any]) -> list[dict[str, str]]:
    """The KEDAScaling condition from status.scaling (none unless the site's engine is KEDA)."""
    scaling = status.get("scaling") or {}
    if scaling.get("engine") != KEDA:
        return []
    block = scaling.get("keda") or {}
    if not block.get("available"):
        return [
            {
                "type": CONDITION,
                "status": "False",
                "reason": "KEDANotInstalled",
                "message": (
                    f"spec.processor.autoscaling.engine is KEDA but the cluster serves no {SCALEDOBJECTS} "
                    f"({API_VERSION}): install KEDA; until then no ScaledObject is rendered, nothing scales the "
                    f"processors and they run minReplicas ({block.get('minReplicas')})"
                ),
            }
        ]
    return [
        {
            "type": CONDITION,
            "status": "True",
            "reason": "ScaledObjectRendered",
            "message": (
                f"KEDA owns processor scaling through ScaledObject {block.get('scaledObject')} (kafka trigger, "
                f"lagThreshold {block.get('lagThresholdMessages')} messages: {block.get('conversion')}; replicas "
                f"{block.get('minReplicas')}-{block.get('maxReplicas')}); the operator measures the lag, never scales"
            ),
        }
    ]
