"""SiteSpec: the spec read once, with the topic prefix, consumer group and partitions every handler uses."""

from __future__ import annotations

from gridwatch_operator.spec import DEFAULT_PARTITIONS, SiteSpec
from gridwatch_operator.values import helm_values


def test_the_prefix_is_the_site_name_unless_topic_prefix_is_set() -> None:
    plain = SiteSpec.parse("north", {"kafka": {"bootstrapServers": "b:9092"}})
    assert plain.kafka.topic_prefix == "north"
    assert plain.kafka.readings_topic == "north.readings"
    assert plain.kafka.processor_group == "north.processor"
    assert plain.kafka.topics[0] == "north.readings"
    assert all(t.startswith("north.") for t in plain.kafka.topics)

    shared = SiteSpec.parse("north", {"kafka": {"bootstrapServers": "b:9092", "topicPrefix": "eu1"}})
    assert shared.kafka.topic_prefix == "eu1"
    assert shared.kafka.processor_group == "eu1.processor"
    assert all(t.startswith("eu1.") for t in shared.kafka.topics)


def test_absent_fields_take_the_crd_defaults() -> None:
    parsed = SiteSpec.parse("s", {})
    assert parsed.kafka.partitions == DEFAULT_PARTITIONS == 4
    assert parsed.kafka.replication_factor == 1
    assert parsed.kafka.manage_topics is True
    assert parsed.paused is False
    assert parsed.autoscaling is False


def test_autoscaling_policy_comes_from_the_processor_block() -> None:
    spec = {"paused": True, "processor": {"autoscaling": {"enabled": True, "maxReplicas": 8, "lagPerReplica": 50}}}
    parsed = SiteSpec.parse("s", spec)
    assert parsed.paused is True
    assert parsed.autoscaling is True
    assert (parsed.policy.max_replicas, parsed.policy.lag_per_replica) == (8, 50)


def test_helm_values_read_kafka_from_the_same_parse() -> None:
    spec = {"kafka": {"bootstrapServers": "b:9092", "partitions": 6, "replicationFactor": 3}}
    kafka = helm_values("north", spec, {}, default_image="img:1")["kafka"]
    connection = {k: kafka[k] for k in ("bootstrapServers", "partitions", "replicationFactor", "topicPrefix")}
    assert connection == {"bootstrapServers": "b:9092", "partitions": 6, "replicationFactor": 3, "topicPrefix": ""}
    assert kafka["tls"]["enabled"] is False and kafka["sasl"]["enabled"] is False
    override = helm_values("north", {"kafka": {"topicPrefix": "eu1"}}, {}, default_image="img:1")["kafka"]
    assert override["topicPrefix"] == "eu1"
    assert override["partitions"] == SiteSpec.parse("north", {}).kafka.partitions


def test_a_maintenance_window_out_of_range_is_a_spec_problem_the_pattern_cannot_see() -> None:
    bad = {"upgrade": {"policy": "Automatic", "maintenanceWindows": [{"schedule": "61 2 * * *"}]}}
    problem = SiteSpec.parse("s", bad).problem()
    assert problem is not None and problem.startswith("spec.upgrade.maintenanceWindows: minute '61'")
    good = {"upgrade": {"maintenanceWindows": [{"schedule": "0 2 * * 6", "durationMinutes": 240}]}}
    assert SiteSpec.parse("s", good).problem() is None
