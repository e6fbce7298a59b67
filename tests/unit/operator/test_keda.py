"""Engine KEDA: thresholds in messages, the values, status and condition, and no scaling by the operator."""

from __future__ import annotations

from typing import Any

import pytest
from gridwatch_operator import keda
from gridwatch_operator import site as logic
from gridwatch_operator import status as st
from gridwatch_operator.autoscaler import Policy
from gridwatch_operator.site import Runtime
from gridwatch_operator.spec import SiteSpec
from gridwatch_operator.values import autoscaled, desired_replicas, helm_values
from kubernetes.client import ApiException

from tests.unit.operator.fakes import Events, FakeHelm, FakeKafka, Scaler, runtime, site_spec
from tests.unit.operator.test_crd import defaulted_spec, validate_spec

NS = "sites"
NOW = 1_800_000_000.0
KEDA = {
    "autoscaling": {
        "enabled": True,
        "engine": "KEDA",
        "minReplicas": 1,
        "maxReplicas": 4,
        "lagPerReplica": 25000,
        "readingsPerMessage": 500,
        "activationLag": 1200,
        "cooldownSeconds": 120,
    }
}


def test_readings_become_messages_rounded_up_and_messages_pass_through() -> None:
    found = keda.thresholds(Policy(lag_per_replica=25000, readings_per_message=500, activation_lag=1200))
    assert (found.lag_threshold, found.activation_lag_threshold) == (50, 3)
    assert found.conversion == "lagThreshold = ceil(25000 readings / 500 readings per message) = 50 messages"
    # a threshold below one message's readings is still one message, never 0 (KEDA refuses lagThreshold 0)
    assert keda.thresholds(Policy(lag_per_replica=100, readings_per_message=500)).lag_threshold == 1
    assert keda.thresholds(Policy(lag_per_replica=25001, readings_per_message=500)).lag_threshold == 51
    messages = keda.thresholds(Policy(lag_per_replica=40, lag_unit="messages", activation_lag=5))
    assert (messages.lag_threshold, messages.activation_lag_threshold) == (40, 5)


def test_the_crd_defaults_the_engine_to_operator_and_refuses_an_unknown_one() -> None:
    spec = defaulted_spec({"processor": {"autoscaling": {"enabled": True}}})
    assert spec["processor"]["autoscaling"]["engine"] == "Operator"
    bad = defaulted_spec({"processor": {"autoscaling": {"enabled": True, "engine": "Keda"}}})
    assert any("Keda" in e and "Operator" in e and "KEDA" in e for e in validate_spec(bad)), validate_spec(bad)


def test_values_render_a_scaled_object_only_when_keda_is_served() -> None:
    spec = defaulted_spec(site_spec(processor=KEDA))
    assert not autoscaled(spec)  # the operator does not own the replicas
    served = helm_values("north", spec, {}, default_image="img:1", keda_available=True)["processor"]
    assert served["keda"] == {
        "enabled": True,
        "minReplicas": 1,
        "maxReplicas": 4,
        "lagThreshold": 50,
        "activationLagThreshold": 3,
        "cooldownSeconds": 120,
    }
    assert "replicas" not in served and not served["autoscaled"]
    assert (
        desired_replicas(helm_values("north", spec, {}, default_image="img:1", keda_available=True))["processor"]
        is None
    )
    missing = helm_values("north", spec, {}, default_image="img:1", keda_available=False)["processor"]
    assert "keda" not in missing and missing["replicas"] == 1  # fixed at minReplicas until KEDA is installed


def keda_runtime(available: list[bool], scaler: Scaler | None = None) -> tuple[Runtime, FakeHelm, FakeKafka]:
    helm, kafka = FakeHelm(), FakeKafka()
    rt = runtime(helm, kafka, scaler)
    rt.keda_available = lambda: available[0]
    return rt, helm, kafka


def test_with_keda_the_operator_measures_lag_but_never_scales_and_says_keda_owns_scaling() -> None:
    scaler, events = Scaler(), Events()
    rt, helm, kafka = keda_runtime([True], scaler)
    spec = site_spec(processor=KEDA)
    status = logic.apply_site(rt, SiteSpec.parse("north", spec), NS, spec, {}, 1, events)
    assert helm.applied[-1]["processor"]["keda"]["lagThreshold"] == 50
    assert status["scaling"]["engine"] == "KEDA"
    assert status["scaling"]["keda"]["scaledObject"] == "north-processor"
    kafka.current_lag = 10_000  # far above lagThreshold: the operator would scale to 4
    patch = logic.autoscale(rt, SiteSpec.parse("north", spec), NS, spec, status, events, events.warn, NOW)
    assert scaler.calls == []
    assert patch["consumerLag"] == 10_000
    assert "lastDecision" not in (patch.get("scaling") or {})
    assert len(helm.applied) == 1
    cond = [
        c
        for c in st.observe({**status, **patch}, 1, (), paused=False, stamp="t")["conditions"]
        if c["type"] == keda.CONDITION
    ]
    assert cond[0]["status"] == "True" and cond[0]["reason"] == "ScaledObjectRendered"
    assert "KEDA owns processor scaling through ScaledObject north-processor" in cond[0]["message"]
    assert "lagThreshold 50 messages" in cond[0]["message"]
    # drift repair leaves KEDA's replicas alone: the operator owns no processor count
    assert logic.chosen_replicas(rt.registry.get(NS, "north"), "north", spec, status) == {}


def test_without_keda_crds_a_clear_condition_and_keda_appearing_later_renders_the_scaled_object() -> None:
    available = [False]
    events = Events()
    rt, helm, _ = keda_runtime(available)
    spec = site_spec(processor=KEDA)
    parsed = SiteSpec.parse("north", spec)
    status = logic.apply_site(rt, parsed, NS, spec, {}, 1, events)
    assert "keda" not in helm.applied[-1]["processor"] and helm.applied[-1]["processor"]["replicas"] == 1
    cond = keda.condition(status)
    assert cond[0]["status"] == "False" and cond[0]["reason"] == "KEDANotInstalled"
    assert "serves no scaledobjects.keda.sh (keda.sh/v1alpha1)" in cond[0]["message"]
    patch = logic.autoscale(rt, parsed, NS, spec, status, events, events.warn, NOW)
    assert len(helm.applied) == 1 and "scaling" not in patch  # nothing changed: no helm call, no patch

    available[0] = True  # KEDA installed since
    patch = logic.autoscale(rt, parsed, NS, spec, status, events, events.warn, NOW)
    assert len(helm.applied) == 2 and helm.applied[-1]["processor"]["keda"]["enabled"] is True
    assert patch["scaling"]["keda"]["available"] is True
    assert keda.condition({**status, **patch})[0]["status"] == "True"
    assert ("Normal", "KEDAChanged") in [e[:2] for e in events.events]


def test_an_api_error_asking_for_keda_keeps_what_was_rendered() -> None:
    rt, helm, _ = keda_runtime([True])
    spec = site_spec(processor=KEDA)
    parsed = SiteSpec.parse("north", spec)
    status = logic.apply_site(rt, parsed, NS, spec, {}, 1, Events())

    def broken() -> bool:
        raise ApiException(status=503, reason="Service Unavailable")

    rt.keda_available = broken
    events = Events()
    patch = logic.autoscale(rt, parsed, NS, spec, status, events, events.warn, NOW)
    assert len(helm.applied) == 1 and "scaling" not in patch
    assert ("Warning", "KEDAUnknown") in [e[:2] for e in events.events]


@pytest.mark.parametrize("engine", ["Operator", None])
def test_the_operator_engine_records_itself_and_no_keda_block(engine: str | None) -> None:
    auto: dict[str, Any] = {"enabled": True, "maxReplicas": 4}
    if engine:
        auto["engine"] = engine
    rt, _, _ = keda_runtime([True])
    spec = site_spec(processor={"autoscaling": auto})
    status = logic.apply_site(rt, SiteSpec.parse("north", spec), NS, spec, {}, 1, Events())
    assert status["scaling"] == {"engine": "Operator", "keda": None}
    assert keda.condition(status) == []
