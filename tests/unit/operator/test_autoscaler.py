"""Lag-based processor scaling: ceil(lag / lagPerReplica) within [min, max] and partitions, cooldown on the way down."""

from __future__ import annotations

import pytest
from gridwatch_operator.autoscaler import SETTLE_SECONDS, Policy, decide, target

POLICY = Policy(min_replicas=1, max_replicas=6, lag_per_replica=1000, cooldown_seconds=300)
NOW = 10_000.0


@pytest.mark.parametrize(
    ("lag", "partitions", "replicas"),
    [
        (0, 8, 1),  # no lag: minReplicas
        (1, 8, 1),
        (1000, 8, 1),
        (1001, 8, 2),  # ceil
        (3500, 8, 4),
        (999_999, 8, 6),  # maxReplicas
        (999_999, 3, 3),  # never more members than partitions
    ],
)
def test_target(lag: int, partitions: int, replicas: int) -> None:
    assert target(POLICY, lag, partitions)[0] == replicas


def test_scale_up_is_immediate_even_inside_the_cooldown() -> None:
    decision = decide(POLICY, current=1, lag=3500, partitions=8, now=NOW, last_scale_time=NOW - 1)
    assert (decision.replicas, decision.changed, decision.direction) == (4, True, "up")
    assert decision.reason == "scale up: lag 3500 readings / 1000 per replica = 4"


def test_scale_down_waits_for_the_cooldown() -> None:
    held = decide(POLICY, current=4, lag=0, partitions=8, now=NOW, last_scale_time=NOW - 100)
    assert (held.replicas, held.changed, held.direction) == (4, False, "none")
    assert held.reason.startswith("scale down to 1 held by cooldown (200s of 300s left)")
    done = decide(POLICY, current=4, lag=0, partitions=8, now=NOW, last_scale_time=NOW - 300)
    assert (done.replicas, done.direction) == (1, "down")
    assert done.reason.startswith("scale down: lag 0")


def test_no_cooldown_without_a_previous_scaling() -> None:
    assert decide(POLICY, current=4, lag=1500, partitions=8, now=NOW, last_scale_time=None).replicas == 2


def test_reasons_name_the_clamp_that_decided() -> None:
    assert "capped at maxReplicas 6" in decide(POLICY, 1, 10**6, 8, NOW, None).reason
    assert "capped at 3 partitions" in decide(POLICY, 1, 10**6, 3, NOW, None).reason
    assert "raised to minReplicas 2" in decide(Policy(min_replicas=2), 2, 0, 8, NOW, None).reason
    assert decide(POLICY, 2, 1500, 8, NOW, None).reason.startswith("steady:")


def test_lowered_bounds_apply_at_once_despite_the_cooldown() -> None:
    smaller = Policy(min_replicas=1, max_replicas=2, lag_per_replica=1000, cooldown_seconds=300)
    decision = decide(smaller, current=5, lag=10_000, partitions=8, now=NOW, last_scale_time=NOW - 1)
    assert decision.replicas == 2
    assert "above the allowed maximum 2" in decision.reason
    fewer_partitions = decide(POLICY, current=5, lag=10_000, partitions=2, now=NOW, last_scale_time=NOW - 1)
    assert fewer_partitions.replicas == 2


def test_unknown_lag_keeps_replicas_inside_bounds() -> None:
    keep = decide(POLICY, current=3, lag=None, partitions=8, now=NOW, last_scale_time=None)
    assert (keep.replicas, keep.changed, keep.lag) == (3, False, None)
    assert keep.reason == "lag unknown; keeping replicas"
    clamp = decide(
        Policy(min_replicas=4, max_replicas=6), current=3, lag=None, partitions=8, now=NOW, last_scale_time=None
    )
    assert clamp.replicas == 4


def test_policy_from_spec() -> None:
    spec = {"enabled": True, "minReplicas": 2, "maxReplicas": 8, "lagPerReplica": 250, "cooldownSeconds": 60}
    assert Policy.from_spec(spec) == Policy(2, 8, 250, 60.0)
    assert Policy.from_spec(spec).lag_unit == "readings"
    assert Policy.from_spec({**spec, "lagUnit": "messages"}).lag_unit == "messages"


def test_a_scale_up_waits_for_the_last_ones_to_join() -> None:
    # 2 processors were asked for 10 s ago, 1 is ready: the lag has not met the new one yet
    held = decide(POLICY, current=2, lag=5000, partitions=8, now=NOW, last_scale_time=NOW - 10, ready=1)
    assert (held.replicas, held.changed) == (2, False)
    assert held.reason.startswith("scale up to 5 held: 1 of 2 processors ready")
    # once they are ready, or after SETTLE_SECONDS (a pod that never becomes ready), it scales
    assert decide(POLICY, current=2, lag=5000, partitions=8, now=NOW, last_scale_time=NOW - 10, ready=2).replicas == 5
    late = NOW - SETTLE_SECONDS - 1
    assert decide(POLICY, current=2, lag=5000, partitions=8, now=NOW, last_scale_time=late, ready=1).replicas == 5
    # never scaled (a site starting up) or readiness unknown: immediate
    assert decide(POLICY, current=1, lag=5000, partitions=8, now=NOW, last_scale_time=None, ready=0).replicas == 5
    assert decide(POLICY, current=2, lag=5000, partitions=8, now=NOW, last_scale_time=NOW - 1).replicas == 5
