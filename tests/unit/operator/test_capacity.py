"""Input rate and processor capacity from successive lag measurements, and the scale-down they allow."""

from __future__ import annotations

import pytest
from gridwatch_operator.autoscaler import Policy, decide
from gridwatch_operator.capacity import BUSY_BACKLOG_MESSAGES, Sample, Throughput

POLICY = Policy(min_replicas=1, max_replicas=6, lag_per_replica=1000, cooldown_seconds=300)


def test_the_input_rate_comes_from_the_growth_of_the_log_end() -> None:
    flow = Throughput()
    flow.observe(Sample(0.0, 1000, 1000), replicas=2, ready=2)
    assert flow.input_rate is None and flow.needed() is None  # one look gives no rate
    flow.observe(Sample(10.0, 1500, 1490), replicas=2, ready=2)
    assert flow.input_rate == pytest.approx(50.0)
    assert flow.per_processor is None  # the group kept up: nothing says what a processor can do


def test_capacity_is_measured_only_while_a_backlog_kept_every_processor_busy() -> None:
    flow = Throughput()
    deep = BUSY_BACKLOG_MESSAGES * 2
    flow.observe(Sample(0.0, 10_000, 10_000 - 5 * deep), replicas=2, ready=2)
    flow.observe(Sample(10.0, 12_000, 11_000 - 5 * deep), replicas=2, ready=1)  # one still joining
    assert flow.per_processor is None
    flow.observe(Sample(20.0, 14_000, 12_000 - 5 * deep), replicas=2, ready=2)
    assert flow.per_processor == pytest.approx(50.0)  # 1000 messages in 10 s by two processors
    assert flow.input_rate == pytest.approx(200.0)
    assert flow.needed() == 5  # 200 / (50 x 0.8)
    flow.observe(Sample(30.0, 16_000, 14_000 - 5 * deep), replicas=2, ready=2)
    assert flow.per_processor == pytest.approx(75.0)  # moves halfway to the newer 100


def test_short_intervals_wait_and_a_recreated_topic_starts_over() -> None:
    flow = Throughput()
    flow.observe(Sample(0.0, 1000, 1000), replicas=1, ready=1)
    flow.observe(Sample(2.0, 1100, 1100), replicas=1, ready=1)
    assert flow.input_rate is None and flow.last == Sample(0.0, 1000, 1000)
    flow.observe(Sample(10.0, 1400, 1400), replicas=1, ready=1)
    assert flow.input_rate == pytest.approx(40.0)
    flow.observe(Sample(20.0, 10, 10), replicas=1, ready=1)
    assert flow.input_rate is None and flow.last == Sample(20.0, 10, 10)


def test_steady_load_that_needs_the_processors_keeps_them_after_the_cooldown() -> None:
    held = decide(POLICY, current=3, lag=0, partitions=8, now=1000.0, last_scale_time=0.0, needed=3, throughput="t")
    assert (held.replicas, held.changed) == (3, False)
    assert held.reason.startswith("scale down to 1 held: t needs 3")
    some = decide(POLICY, current=4, lag=0, partitions=8, now=1000.0, last_scale_time=0.0, needed=2, throughput="t")
    assert (some.replicas, some.direction) == (2, "down")
    assert some.reason.endswith("kept 2 for t")
    free = decide(POLICY, current=4, lag=0, partitions=8, now=1000.0, last_scale_time=0.0, needed=1)
    assert free.replicas == 1
    unknown = decide(POLICY, current=4, lag=0, partitions=8, now=1000.0, last_scale_time=0.0, needed=None)
    assert unknown.replicas == 1  # without a measurement the lag alone decides, as before


def test_the_measured_need_never_holds_a_scale_down_above_the_maximum() -> None:
    policy = Policy(min_replicas=1, max_replicas=2, lag_per_replica=1000, cooldown_seconds=300)
    d = decide(policy, current=4, lag=0, partitions=8, now=1000.0, last_scale_time=999.0, needed=4, throughput="t")
    assert d.replicas == 2 and d.reason.startswith("scale down at once, above the allowed maximum 2")
    assert d.reason.endswith("kept 2 for t")
