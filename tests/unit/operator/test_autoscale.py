"""The autoscale timer's logic against a fake Helm and a fake Kafka: lag, data flow and processor scaling."""

from __future__ import annotations

from typing import Any

from gridwatch_operator import site as logic
from gridwatch_operator import status as st
from gridwatch_operator.site import Runtime
from gridwatch_operator.spec import SiteSpec
from kubernetes.client import ApiException

from tests.unit.operator.fakes import Events, FakeHelm, FakeKafka, Scaler, beat, runtime, site_spec

NS = "sites"
NOW = 1_800_000_000.0
AUTO = {
    "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "lagPerReplica": 100, "cooldownSeconds": 300}
}


def run(rt: Runtime, spec: dict[str, Any], status: dict[str, Any], events: Events, now: float = NOW) -> dict[str, Any]:
    return logic.autoscale(rt, SiteSpec.parse("north", spec), NS, spec, status, events, events.warn, now)


def patched(status: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The status after the API server applies a merge patch (RFC 7386: maps merge, None deletes)."""
    out = dict(status)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = patched(out[key], value)
        else:
            out[key] = value
    return out


def installed(
    helm: FakeHelm, kafka: FakeKafka, spec: dict[str, Any], scaler: Scaler | None = None
) -> tuple[Runtime, dict[str, Any]]:
    """A site whose release the reconcile handler installed; returns its status."""
    rt = runtime(helm, kafka, scaler)
    parsed = SiteSpec.parse("north", spec)
    status = logic.apply_site(rt, parsed, NS, spec, {}, 1, Events())
    return rt, status


def test_lag_scales_the_processors_up_through_the_scale_subresource_not_helm() -> None:
    helm, kafka, events, scaler = FakeHelm(), FakeKafka(), Events(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)
    assert helm.applied[-1]["processor"] == {"autoscaled": True, "forest": "auto"}  # the chart renders no replicas
    kafka.current_lag = 250
    patch = run(rt, spec, status, events)

    assert kafka.lag_asked == [("broker:9092", "north.processor", "north.readings")]
    assert patch["consumerLag"] == 250
    assert scaler.calls == [(NS, "north-processor", 3)]
    assert len(helm.applied) == 1 and "helm" not in patch  # no Helm revision per scaling step
    assert patch["scaling"]["replicas"] == 3
    assert patch["scaling"]["lastDecision"]["from"] == 1
    assert patch["scaling"]["lastDecision"]["to"] == 3
    assert rt.registry.get(NS, "north").scaled_replicas == 3
    assert events.events[-1][:2] == ("Normal", "Scaled")
    # a reconcile afterwards (a real configuration change elsewhere) renders the same processor block
    again = logic.apply_site(rt, SiteSpec.parse("north", spec), NS, spec, {**status, **patch}, 2, Events())
    assert again["helm"]["revision"] == 1 and len(helm.applied) == 1


def test_a_restarted_operator_keeps_the_replicas_and_the_cooldown_from_the_status() -> None:
    helm, kafka, scaler = FakeHelm(), FakeKafka(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)
    kafka.current_lag = 400
    status = {**status, **run(rt, spec, status, Events())}
    scaled_at = st.parse_time(status["scaling"]["lastScaleTime"]) or NOW

    fresh = runtime(helm, kafka, scaler)  # a new process: nothing in memory, the status from the API server
    kafka.current_lag = 0
    held = run(fresh, spec, status, Events(), now=scaled_at + 10)
    assert "held by cooldown" in held["scaling"]["lastEvaluation"]["reason"]
    assert scaler.calls == [(NS, "north-processor", 4)]
    assert logic.chosen_replicas(fresh.registry.get(NS, "north"), "north", spec, status) == {"north-processor": 4}
    down = run(fresh, spec, status, Events(), now=scaled_at + 301)
    assert down["scaling"]["replicas"] == 1 and scaler.calls[-1] == (NS, "north-processor", 1)


def test_the_consumer_group_follows_the_topic_prefix() -> None:
    kafka = FakeKafka()
    spec = site_spec(kafka={"topicPrefix": "eu1"})
    run(runtime(kafka=kafka), spec, {}, Events())
    assert kafka.lag_asked == [("broker:9092", "eu1.processor", "eu1.readings")]


def test_scaling_is_capped_by_the_partitions() -> None:
    helm, kafka, scaler = FakeHelm(), FakeKafka(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)
    kafka.current_lag, kafka.partition_count = 10_000, 2
    patch = run(rt, spec, status, Events())
    assert patch["scaling"]["replicas"] == 2
    assert scaler.calls == [(NS, "north-processor", 2)]


def test_scale_down_waits_for_the_cooldown() -> None:
    helm, kafka, events, scaler = FakeHelm(), FakeKafka(), Events(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)
    kafka.current_lag = 400
    up = run(rt, spec, status, events)
    status = {**status, **up}

    kafka.current_lag = 0
    held = run(rt, spec, status, events, now=st.parse_time(up["scaling"]["lastScaleTime"]) or NOW)
    assert len(scaler.calls) == 1
    assert "held by cooldown" in held["scaling"]["lastEvaluation"]["reason"]
    assert held["scaling"]["replicas"] == 4

    later = (st.parse_time(up["scaling"]["lastScaleTime"]) or NOW) + 301
    down = run(rt, spec, status, events, now=later)
    assert down["scaling"]["replicas"] == 1
    assert scaler.calls[-1] == (NS, "north-processor", 1)
    assert len(helm.applied) == 1


def test_steady_load_keeps_the_processors_it_needs_and_an_idle_topic_lets_them_go() -> None:
    """Lag near zero after a scale-up does not mean one processor would do: the measured input rate decides."""
    helm, kafka, events, scaler = FakeHelm(), FakeKafka(), Events(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)

    def measure(at: int, produced: int, lag: int) -> None:
        nonlocal status
        kafka.current_lag, kafka.consumed = lag, (produced - lag) // kafka.partition_count
        status = patched(status, run(rt, spec, status, events, now=NOW + at))

    measure(0, 4400, 400)  # 1 -> 4 on lag
    assert scaler.calls == [(NS, "north-processor", 4)]
    for at in (10, 20, 30, 40):  # a backlog throughout: 4 processors drain 40 messages/s, 40 arrive
        measure(at, 4400 + 40 * at, 400)
    for at in range(50, 410, 10):  # caught up; 40 messages/s keep arriving; the cooldown ends at 300
        measure(at, 4400 + 40 * at, 0)
    assert len(scaler.calls) == 1
    reason = status["scaling"]["lastEvaluation"]["reason"]
    assert reason.startswith("scale down to 1 held: input 40.0 msg/s, one processor drains 10.0 msg/s needs 5")
    for at in range(410, 450, 10):  # the input stopped at 400
        measure(at, 4400 + 40 * 400, 0)
    assert scaler.calls[-1] == (NS, "north-processor", 1)
    assert status["scaling"]["replicas"] == 1


def test_the_measured_capacity_is_kept_in_the_status_and_a_restarted_operator_holds_the_same_floor() -> None:
    helm, kafka, events, scaler = FakeHelm(), FakeKafka(), Events(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)

    def measure(target: Runtime, at: int, produced: int, lag: int) -> dict[str, Any]:
        nonlocal status
        kafka.current_lag, kafka.consumed = lag, (produced - lag) // kafka.partition_count
        patch = run(target, spec, status, events, now=NOW + at)
        status = patched(status, patch)
        return patch

    measure(rt, 0, 4400, 400)  # 1 -> 4 on lag
    written = []
    for at in (10, 20, 30, 40, 50, 60):  # a backlog throughout: 4 processors drain 40 messages/s
        written.append("capacity" in (measure(rt, at, 4400 + 40 * at, 400).get("scaling") or {}))
    capacity = status["scaling"]["capacity"]
    assert capacity["messagesPerSecondPerProcessor"] == 10.0
    assert st.parse_time(capacity["measuredAt"]) == NOW + 40  # the first 30 s window with 4 processors throughout
    assert written == [False, False, False, True, False, False]  # the same capacity again is not rewritten
    for at in range(70, 300, 10):  # caught up, still 40 messages/s arriving
        measure(rt, at, 4400 + 40 * at, 0)

    fresh = runtime(helm, kafka, scaler)  # a new process: nothing in memory, the status from the API server
    first = measure(fresh, 300, 4400 + 40 * 300, 0)  # after the cooldown, lag 0: lag alone would drop to 1
    assert "held: input unknown msg/s, one processor drains 10.0 msg/s" in first["scaling"]["lastEvaluation"]["reason"]
    for at in range(310, 420, 10):  # the input rate measured again
        measure(fresh, at, 4400 + 40 * at, 0)
    assert len(scaler.calls) == 1
    reason = status["scaling"]["lastEvaluation"]["reason"]
    assert reason.startswith("scale down to 1 held: input 40.0 msg/s, one processor drains 10.0 msg/s needs 5")

    stale = runtime(helm, kafka, scaler)  # a status measured longer ago than the memory is not trusted
    aged = {**status, "scaling": {**status["scaling"], "capacity": {**capacity, "measuredAt": "2020-01-01T00:00:00Z"}}}
    kafka.current_lag = 0
    run(stale, spec, aged, Events(), now=NOW + 430)
    assert stale.registry.get(NS, "north").throughput.per_processor is None


def test_a_refused_scale_keeps_the_replicas_and_says_why() -> None:
    helm, kafka, events, scaler = FakeHelm(), FakeKafka(), Events(), Scaler()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec, scaler)
    kafka.current_lag = 250
    scaler.fail = ApiException(status=403, reason="Forbidden")
    patch = run(rt, spec, status, events)
    evaluation = patch["scaling"]["lastEvaluation"]
    assert (evaluation["from"], evaluation["to"]) == (1, 1)
    assert "scaling to 3 failed: Forbidden" in evaluation["reason"]
    assert "replicas" not in patch["scaling"]
    assert rt.registry.get(NS, "north").scaled_replicas is None
    assert "ScalingFailed" in events.reasons()


def test_unknown_lag_keeps_the_replicas_without_helm() -> None:
    helm, kafka, events = FakeHelm(), FakeKafka(), Events()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec)
    kafka.current_lag = None
    patch = run(rt, spec, status, events)
    assert "consumerLag" not in patch
    assert len(helm.applied) == 1
    assert patch["scaling"]["lastEvaluation"]["reason"].startswith("lag unknown")
    assert any("consumer lag unknown" in w for w in events.warnings)


def test_without_autoscaling_only_lag_and_data_flow_are_reported() -> None:
    helm, kafka = FakeHelm(), FakeKafka()
    spec = site_spec()
    rt, status = installed(helm, kafka, spec)
    kafka.current_lag = 5_000
    kafka.newest = NOW - 2
    kafka.beats = [beat("sim-0", NOW - 30, 40), beat("sim-0", NOW - 5, 50), beat("gw", NOW - 600, 7)]
    patch = run(rt, spec, status, Events())
    assert len(helm.applied) == 1
    assert "scaling" not in patch
    assert patch["consumerLag"] == 5_000
    assert patch["dataFlow"] == {"lastMessageTime": NOW - 2, "sensorsReporting": 50, "error": None}
    assert patch["sensorsReporting"] == 50


def test_an_unchanged_measurement_patches_nothing() -> None:
    helm, kafka = FakeHelm(), FakeKafka()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec)
    kafka.current_lag = 50
    first = run(rt, spec, status, Events())
    status = {**status, **first, "dataFlow": {"sensorsReporting": 0}}
    assert run(rt, spec, status, Events()) == {}


def test_the_processors_scale_by_readings_not_messages() -> None:
    helm, kafka, events = FakeHelm(), FakeKafka(), Events()
    auto = {"autoscaling": {**AUTO["autoscaling"], "lagPerReplica": 1000}}
    spec = site_spec(processor=auto)
    rt, status = installed(helm, kafka, spec)
    # 8 lagging messages of 500 readings: 4000 readings, 4 processors; in messages it would have been 1
    kafka.current_lag, kafka.readings_per_message = 8, 500
    patch = run(rt, spec, status, events)
    assert (patch["consumerLag"], patch["consumerLagReadings"]) == (8, 4000)
    assert patch["lagEstimate"] == {"method": "exact", "sampledMessages": 8, "readingsPerMessage": 500.0}
    decision = patch["scaling"]["lastDecision"]
    assert (decision["to"], decision["lag"], decision["unit"]) == (4, 4000, "readings")
    assert decision["reason"] == "scale up: lag 4000 readings / 1000 per replica = 4"
    assert kafka.samples_asked == [rt.settings.lag_sample_messages]


def test_a_lag_longer_than_the_sample_is_estimated() -> None:
    helm, kafka = FakeHelm(), FakeKafka()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec)
    kafka.current_lag, kafka.readings_per_message = 4 * (rt.settings.lag_sample_messages + 10), 3
    patch = run(rt, spec, status, Events())
    assert patch["consumerLagReadings"] == 3 * kafka.current_lag
    assert patch["lagEstimate"]["method"] == "sampled"
    assert patch["lagEstimate"]["sampledMessages"] == 4 * rt.settings.lag_sample_messages


def test_lag_in_messages_when_the_policy_says_so() -> None:
    helm, kafka = FakeHelm(), FakeKafka()
    spec = site_spec(processor={"autoscaling": {**AUTO["autoscaling"], "lagUnit": "messages"}})
    rt, status = installed(helm, kafka, spec)
    kafka.current_lag, kafka.readings_per_message = 250, 500
    patch = run(rt, spec, status, Events())
    assert patch["consumerLagReadings"] == 125_000
    assert patch["scaling"]["lastDecision"]["reason"] == "scale up: lag 250 messages / 100 per replica = 3"


def test_unknown_readings_keep_the_replicas_but_report_the_messages() -> None:
    helm, kafka, events = FakeHelm(), FakeKafka(), Events()
    spec = site_spec(processor=AUTO)
    rt, status = installed(helm, kafka, spec)
    kafka.current_lag, kafka.readings_down = 900, "broker went away"
    patch = run(rt, spec, status, events)
    assert patch["consumerLag"] == 900 and "consumerLagReadings" not in patch
    assert patch["scaling"]["lastEvaluation"]["reason"].startswith("lag unknown")
    assert any("consumer lag in readings unknown: broker went away" in w for w in events.warnings)
