"""Input rate and processor capacity from successive lag measurements, and the scale-down they allow."""

from __future__ import annotations

import pytest
from gridwatch_operator.autoscaler import Policy, decide
from gridwatch_operator.capacity import BUSY_BACKLOG_MESSAGES, CAPACITY_MEMORY_S, HISTORY_S, Sample, Throughput

POLICY = Policy(min_replicas=1, max_replicas=6, lag_per_replica=1000, cooldown_seconds=300)
DEEP = BUSY_BACKLOG_MESSAGES * 2  # the backlog that keeps two processors busy


def feed(flow: Throughput, looks: list[tuple[float, int, int]], replicas: int = 2, ready: int | None = 2) -> None:
    for at, produced, backlog in looks:
        flow.observe(Sample(at, produced, produced - backlog), replicas, ready)


def test_the_input_rate_is_the_growth_of_the_log_end_over_a_window() -> None:
    flow = Throughput()
    feed(flow, [(0.0, 1000, 0), (10.0, 1500, 0), (20.0, 2000, 0)])
    assert flow.input_rate is None and flow.needed() is None  # not yet 30 s of measurements
    feed(flow, [(30.0, 2500, 0)])
    assert flow.input_rate == pytest.approx(50.0)
    assert flow.per_processor is None  # the group kept up: nothing says what a processor can do


def test_capacity_comes_only_from_windows_where_every_processor_was_busy() -> None:
    flow = Throughput()
    # a backlog throughout, two processors draining 100 messages/s together, 200 arriving
    feed(flow, [(t, 10_000 + 200 * int(t), 5 * DEEP + 100 * int(t)) for t in (0.0, 10.0, 20.0, 30.0)])
    assert flow.per_processor == pytest.approx(50.0)
    assert flow.input_rate == pytest.approx(200.0)
    assert flow.needed() == 5  # 200 / (50 x 0.8)
    restored = Throughput()
    restored.restore(0.0, 50.0, now=1.0)
    assert restored.needed(current=3) == 3 and restored.needed() is None  # no input rate yet: hold


def test_a_window_with_a_processor_not_ready_or_a_thin_backlog_measures_no_capacity() -> None:
    joining = Throughput()
    feed(joining, [(t, 10_000 + 200 * int(t), 5 * DEEP + 100 * int(t)) for t in (0.0, 10.0, 20.0, 30.0)], ready=1)
    assert joining.per_processor is None and joining.input_rate == pytest.approx(200.0)
    thin = Throughput()
    feed(thin, [(0.0, 10_000, 5 * DEEP), (15.0, 11_000, DEEP - 1), (30.0, 12_000, 5 * DEEP)])
    assert thin.per_processor is None


def test_a_slow_window_does_not_lower_the_capacity_but_old_windows_are_forgotten() -> None:
    flow = Throughput()
    feed(flow, [(t, 10_000 + 200 * int(t), 5 * DEEP + 100 * int(t)) for t in (0.0, 10.0, 20.0, 30.0)])
    # a rebalance: the same backlog, the group drains half as much
    feed(flow, [(t, 10_000 + 200 * int(t), 5 * DEEP + 100 * 30 + 150 * int(t - 30)) for t in (40.0, 50.0, 60.0)])
    assert flow.per_processor == pytest.approx(50.0)
    for t in range(70, int(CAPACITY_MEMORY_S) + 100, 60):  # idle since: measured, never busy
        feed(flow, [(float(t), 50_000, 0)])
    assert flow.per_processor is None


def test_a_recreated_topic_or_a_long_gap_starts_over() -> None:
    flow = Throughput()
    feed(flow, [(0.0, 1000, 0), (30.0, 1300, 0)])
    assert flow.input_rate == pytest.approx(10.0)
    feed(flow, [(40.0, 10, 0)])
    assert flow.input_rate is None and len(flow.looks) == 1
    feed(flow, [(70.0, 310, 0)])
    assert flow.input_rate == pytest.approx(10.0)
    feed(flow, [(70.0 + HISTORY_S + 1, 5000, 0)])
    assert flow.input_rate is None


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


def test_a_capacity_from_before_a_restart_is_restored_only_while_it_is_remembered() -> None:
    flow = Throughput()
    assert flow.best() is None
    assert flow.restore(100.0, 50.0, now=200.0) and flow.per_processor == pytest.approx(50.0)
    assert not flow.restore(150.0, 80.0, now=200.0)  # measured here already: the status is not read again
    assert flow.best() == (100.0, 50.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        assert not Throughput().restore(100.0, bad, now=200.0)
    assert not Throughput().restore(300.0, 50.0, now=200.0)  # from the future: a clock that went back
    assert not Throughput().restore(0.0, 50.0, now=CAPACITY_MEMORY_S + 1)  # older than the memory
