"""apply_site against a fake Helm and a fake Kafka: topics, the release, status fields and events."""

from __future__ import annotations

from typing import Any

import pytest
from gridwatch_operator.site import SiteFailed, apply_site, chosen_replicas, observed
from gridwatch_operator.spec import SiteSpec

from tests.unit.operator.fakes import Events, FakeHelm, FakeKafka, runtime, site_spec

NS = "sites"


def apply(rt: Any, name: str, spec: dict[str, Any], status: dict[str, Any], events: Events) -> dict[str, Any]:
    result: dict[str, Any] = apply_site(rt, SiteSpec.parse(name, spec, NS, status), NS, spec, status, 3, events)
    return result


def test_a_new_site_gets_its_topics_then_its_release() -> None:
    helm, kafka, events = FakeHelm(), FakeKafka(), Events()
    rt = runtime(helm, kafka)
    spec = site_spec(kafka={"partitions": 6, "replicationFactor": 2}, processor={"replicas": 2})
    fields = apply(rt, "north", spec, {}, events)

    assert len(kafka.created) == 1
    bootstrap, names, partitions, replication = kafka.created[0]
    assert (bootstrap, partitions, replication) == ("broker:9092", 6, 2)
    assert names == SiteSpec.parse("north", spec, NS).kafka.topics
    assert names[0] == "sites.north.readings" and fields["siteId"] == "sites.north"  # namespace-qualified
    assert fields["kafka"]["partitions"] == 6
    assert fields["kafka"]["error"] is None

    assert len(helm.applied) == 1
    values = helm.applied[0]
    assert values["site"] == "north"
    assert values["kafka"]["partitions"] == 6
    assert values["processor"]["replicas"] == 2
    assert values["image"]["repository"] == "example.org/gridwatch"
    assert fields["helm"]["revision"] == 1
    assert fields["helm"]["chartVersion"] == "9.9.9"
    assert fields["helm"]["error"] is None
    assert fields["observedGeneration"] == 3
    assert "Installed" in events.reasons()
    assert "TopicsReconciled" in events.reasons()
    assert set(rt.registry.get(NS, "north").deployments or {}) == {"north-processor", "north-api"}


def test_an_unchanged_spec_does_not_upgrade_or_restamp() -> None:
    helm, events = FakeHelm(), Events()
    rt = runtime(helm)
    spec = site_spec()
    first = apply(rt, "north", spec, {}, events)
    events.events.clear()
    second = apply(rt, "north", spec, first, events)
    assert len(helm.applied) == 1
    assert second["helm"]["revision"] == 1
    assert second["helm"]["lastAppliedTime"] == first["helm"]["lastAppliedTime"]
    assert "Installed" not in events.reasons() and "Upgraded" not in events.reasons()

    changed = apply(rt, "north", site_spec(processor={"replicas": 3}), second, events)
    assert changed["helm"]["revision"] == 2
    assert "Upgraded" in events.reasons()


def test_a_helm_failure_keeps_the_topics_and_the_previous_release_fields() -> None:
    helm, events = FakeHelm(), Events()
    rt = runtime(helm)
    helm.fail = "chart rejected the values"
    previous = {"helm": {"release": "north", "revision": 4, "digest": "d"}}
    with pytest.raises(SiteFailed) as failed:
        apply(rt, "north", site_spec(), previous, events)
    assert failed.value.reason == "helm"
    assert failed.value.fields["helm"] == {**previous["helm"], "error": "chart rejected the values"}
    assert failed.value.fields["kafka"]["error"] is None
    assert "HelmFailed" in events.reasons()


def test_kafka_down_still_applies_the_release_then_fails() -> None:
    helm, kafka, events = FakeHelm(), FakeKafka(), Events()
    kafka.down = "broker unreachable"
    with pytest.raises(SiteFailed) as failed:
        apply(runtime(helm, kafka), "north", site_spec(), {}, events)
    assert failed.value.reason == "kafka"
    assert failed.value.fields["kafka"]["error"] == "broker unreachable"
    assert failed.value.fields["helm"]["revision"] == 1
    assert len(helm.applied) == 1
    assert ("Warning", "KafkaFailed", "broker unreachable") in events.events


def test_topics_managed_elsewhere_are_not_touched() -> None:
    kafka = FakeKafka()
    fields = apply(runtime(kafka=kafka), "north", site_spec(kafka={"manageTopics": False}), {}, Events())
    assert kafka.created == []
    assert "manageTopics=false" in fields["kafka"]["message"]


def test_a_reconcile_leaves_the_replicas_to_the_autoscaler() -> None:
    helm = FakeHelm()
    rt = runtime(helm)
    rt.registry.get(NS, "north").scaled_replicas = 3
    spec = site_spec(processor={"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 4}})
    apply(rt, "north", spec, {"scaling": {"replicas": 1}}, Events())
    # the release renders no processor replicas (an upgrade never resets them); drift repair keeps the choice
    assert helm.applied[-1]["processor"] == {"autoscaled": True, "forest": "auto"}
    site = rt.registry.get(NS, "north")
    assert chosen_replicas(site, "north", spec, {"scaling": {"replicas": 1}}) == {"north-processor": 3}


def test_observed_reports_the_releases_deployments() -> None:
    rt = runtime()
    apply(rt, "north", site_spec(processor={"replicas": 2}), {}, Events())
    live = [
        {"name": "north-processor", "component": "processor", "replicas": 2, "ready": 2, "rolledOut": True},
        {"name": "north-api", "component": "api", "replicas": 1, "ready": 0, "rolledOut": True},
    ]
    status = observed(rt, "north", NS, {"observedGeneration": 3}, 3, live, paused=False)
    assert status["paused"] is False
    assert set(status["components"]) == {"processor", "api"}
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ComponentsNotReady")
    assert "api" in ready["message"]
