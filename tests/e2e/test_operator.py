"""The operator on a real control plane: sample site, upgrades, validation, drift, restart, failures, deletion."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gridwatch.api.routes import site as site_route
from gridwatch.api.settings import ApiSettings
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, ReadingBatch, SensorType, encode

from tests.e2e.cluster import REPO, Cluster, OperatorProcess, condition, wait_until
from tests.e2e.conftest import OPERATOR_NAMESPACE, OPERATOR_SA
from tests.infra.services import Kafka

NORTH, SOUTH, FAULTS = "gw-north", "gw-south", "gw-faults"
COMPONENTS = ("simulator", "processor", "api")
SAMPLE = yaml.safe_load((REPO / "config" / "samples" / "energysite.yaml").read_text())


def site_manifest(name: str, broker: Kafka, /, **spec: Any) -> dict[str, Any]:
    """A small site pointing at the test's Kafka (1 processor, 1 API replica unless told)."""
    body: dict[str, Any] = {
        "sensors": {"count": 50},
        "processor": {"replicas": 1},
        "api": {"replicas": 1},
        "kafka": {"bootstrapServers": broker.bootstrap, "partitions": 2},
    }
    for key, value in spec.items():
        body[key] = {**body.get(key, {}), **value} if isinstance(value, dict) else value
    return {"apiVersion": "gridwatch.io/v1alpha1", "kind": "EnergySite", "metadata": {"name": name}, "spec": body}


def deployment_replicas(cluster: Cluster, site: str, namespace: str) -> dict[str, int | None]:
    """spec.replicas of the site's Deployments by component."""
    out: dict[str, int | None] = {}
    for d in cluster.items("deployments", namespace, f"app.kubernetes.io/instance={site}"):
        out[d["metadata"]["labels"]["app.kubernetes.io/component"]] = d["spec"].get("replicas")
    return out


def running_pods(cluster: Cluster, site: str, namespace: str) -> dict[str, int]:
    """Running pods of the site by component."""
    out: dict[str, int] = {}
    for pod in cluster.items("pods", namespace, f"app.kubernetes.io/instance={site}"):
        if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
            component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
            out[component] = out.get(component, 0) + 1
    return out


def ready(cluster: Cluster, site: str, namespace: str) -> dict[str, Any] | None:
    """The site once Ready=True for its current generation, else None."""
    obj = cluster.site(site, namespace)
    status = obj.get("status") or {}
    if (
        condition(obj, "Ready").get("status") == "True"
        and status.get("observedGeneration") == obj["metadata"]["generation"]
    ):
        return obj
    return None


def wait_ready(cluster: Cluster, site: str, namespace: str, timeout: float = 60) -> dict[str, Any]:
    result: dict[str, Any] = wait_until(lambda: ready(cluster, site, namespace), timeout, f"{namespace}/{site} Ready")
    return result


def delete_site(cluster: Cluster, site: str, namespace: str) -> None:
    cluster.kubectl("delete", "energysite", site, "-n", namespace, "--wait=true", "--timeout=90s")


def topic_partitions(kafka: Kafka, prefix: str) -> dict[str, int]:
    """Partitions of the site's topics that exist."""
    metadata = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=10)
    return {name: len(meta.partitions) for name, meta in metadata.topics.items() if name.startswith(f"{prefix}.")}


# --- section 5, bullet 1: the sample site ------------------------------------------------------


def test_sample_site_becomes_ready_with_deployments_pods_topics_and_columns(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    sample = copy.deepcopy(SAMPLE)
    sample["spec"]["kafka"]["bootstrapServers"] = e2e_kafka.bootstrap
    name, spec = sample["metadata"]["name"], sample["spec"]
    want = {"simulator": spec["simulator"]["replicas"], "processor": spec["processor"]["replicas"]}
    want["api"] = spec["api"]["replicas"]
    cluster.apply(sample, NORTH)
    deadline = time.monotonic() + 30  # all of it within 30 s of the apply

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    wait_until(lambda: deployment_replicas(cluster, name, NORTH) == want, left(), f"Deployments with replicas {want}")
    wait_until(lambda: running_pods(cluster, name, NORTH) == want, left(), f"kwok pods Running {want}")
    site = wait_ready(cluster, name, NORTH, timeout=left())

    status = site["status"]
    assert status["components"] == {c: {"desired": n, "ready": n} for c, n in want.items()}
    assert status["processors"] == f"{want['processor']}/{want['processor']}"
    assert status["helm"]["revision"] == 1
    assert cluster.revisions(name, NORTH) == [1]
    assert condition(site, "Degraded")["status"] == "False"
    assert condition(site, "Progressing")["reason"] == "Complete"
    for cond in status["conditions"]:
        assert cond["lastTransitionTime"] and cond["reason"] and cond["message"]

    # The printer columns: NAME READY SENSORS PROCESSORS LAG(READINGS) AGE, all filled (the lag comes from the
    # autoscaler's first look at the group, which waits for the broker's offsets topic).
    wait_until(lambda: "consumerLagReadings" in cluster.site(name, NORTH)["status"], 30, "the consumer lag")
    table = cluster.kubectl("get", "esite", name, "-n", NORTH).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "SENSORS", "PROCESSORS", "LAG(READINGS)", "AGE"]
    row = table[1].split()
    # SENSORS counts sensors actually reporting (heartbeats on the readings topic), not spec.sensors.count: the
    # kwok pods run nothing, so none report and DataFlowing says so
    assert row[:5] == [name, "True", "0", "2/2", "0"], table
    flowing = condition(cluster.site(name, NORTH), "DataFlowing")
    assert (flowing["status"], flowing["reason"]) == ("False", "NoReadings"), flowing
    assert re.fullmatch(r"\d+s", row[5])

    # Topics created through the AdminClient with the spec's partitions.
    # named by the site's namespace-qualified identity (docs/security.md, "Site isolation")
    prefix = f"{NORTH}.{name}"
    expected = {f"{prefix}.{k}": 4 for k in ("readings", "enriched", "alerts", "forecasts", "dispatch", "dlq")}
    assert topic_partitions(e2e_kafka, prefix) == expected
    reasons = {e["reason"] for e in cluster.events(name, NORTH)}
    assert {"TopicsReconciled", "Installed"} <= reasons

    # The workloads get their settings from the spec through GRIDWATCH_* variables.
    config = cluster.get("configmap", f"{name}-config", NORTH)
    assert config is not None
    assert config["data"]["GRIDWATCH_SIM_SENSORS"] == "500"
    assert config["data"]["GRIDWATCH_KAFKA_BOOTSTRAP"] == e2e_kafka.bootstrap
    assert config["data"]["GRIDWATCH_ANALYTICS_BATTERY_SOC_MIN"] == "0.15"


# --- section 5, bullet 2: replicas change -> one new revision ----------------------------------


def test_replica_change_is_followed_with_exactly_one_new_revision(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    name = "scale-me"
    cluster.apply(site_manifest(name, e2e_kafka), SOUTH)
    wait_ready(cluster, name, SOUTH)
    assert cluster.revisions(name, SOUTH) == [1]

    patch = {"spec": {"processor": {"replicas": 2}, "api": {"replicas": 3}, "simulator": {"replicas": 2}}}
    cluster.kubectl("patch", "energysite", name, "-n", SOUTH, "--type=merge", "-p", json.dumps(patch))
    want = {"simulator": 2, "processor": 2, "api": 3}
    wait_until(lambda: deployment_replicas(cluster, name, SOUTH) == want, 30, "Deployments to follow the spec")
    site = wait_ready(cluster, name, SOUTH)
    assert site["status"]["components"]["api"] == {"desired": 3, "ready": 3}
    time.sleep(3)  # several status and autoscaler passes (1 s and 2 s apart) go by: still one more revision
    assert cluster.revisions(name, SOUTH) == [1, 2]
    assert cluster.site(name, SOUTH)["status"]["helm"]["revision"] == 2
    delete_site(cluster, name, SOUTH)


# --- section 5, bullet 3: invalid specs -----------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("no-sensors", {"sensors": {"count": 0}}, "a site needs at least one sensor"),
    (
        "proc-min-max",
        {"processor": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 2}}},
        "processor.autoscaling.minReplicas must be less than or equal to maxReplicas",
    ),
    (
        "api-min-max",
        {"api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}},
        "api.autoscaling.minReplicas must be less than or equal to maxReplicas",
    ),
    (
        "soc-bounds",
        {"analytics": {"battery": {"socMin": 0.8, "socMax": 0.8}}},
        "analytics.battery.socMin must be below socMax",
    ),
    (
        "soc-target",
        {"analytics": {"battery": {"socTarget": 0.95}}},
        "analytics.battery.socTarget must lie strictly between socMin and socMax",
    ),
    (
        "battery-no-power",
        {"analytics": {"battery": {"capacityKWh": 100, "powerKW": 0}}},
        "analytics.battery.powerKW must be above 0 kW when capacityKWh is above 0 kWh",
    ),
    (
        "flex-window",
        {
            "analytics": {
                "flexibleLoads": [
                    {"name": "kiln", "powerKW": 10, "runHours": 5, "windowStartHour": 16, "windowEndHour": 20}
                ]
            }
        },
        "a flexible load's runHours must fit inside its window",
    ),
    (
        "flex-names",
        {"analytics": {"flexibleLoads": [{"name": "kiln", "powerKW": 10}, {"name": "kiln", "powerKW": 20}]}},
        "analytics.flexibleLoads names must be unique",
    ),
    ("bad-timezone", {"timezone": "not a zone"}, "spec.timezone"),
    (
        "z-order",
        {"analytics": {"anomaly": {"zScreen": 5.0, "zAnomaly": 4.0}}},
        "analytics.anomaly.zScreen must be below zAnomaly",
    ),
    (
        "prob-order",
        {"analytics": {"anomaly": {"warningProbability": 0.9, "criticalProbability": 0.5}}},
        "warningProbability must be below criticalProbability",
    ),
    (
        "peak-hours",
        {"analytics": {"tariff": {"peakStartHour": 20, "peakEndHour": 18}}},
        "analytics.tariff.peakStartHour must be before peakEndHour",
    ),
    (
        "sim-zero",
        {"simulator": {"enabled": True, "replicas": 0}},
        "an enabled simulator needs at least one replica",
    ),
    (
        "history-no-secret",
        {"history": {"enabled": True, "host": "postgres"}},
        "history.enabled needs history.host and history.passwordSecretRef",
    ),
    (
        "too-many-proc",
        {"kafka": {"partitions": 2}, "processor": {"autoscaling": {"enabled": True, "maxReplicas": 6}}},
        "processor.autoscaling.maxReplicas must not exceed kafka.partitions",
    ),
    (
        "forecast-no-history",
        {"forecaster": {"enabled": True}},
        "forecaster.enabled needs history.enabled",
    ),
    (
        "forecast-step",
        {"forecaster": {"stepMinutes": 7}},
        "forecaster.stepMinutes must divide a day",
    ),
    ("trainer-words", {"trainer": {"schedule": "every night"}}, "trainer.schedule must be a cron schedule"),
    ("trainer-hour", {"trainer": {"schedule": "0 25 * * *"}}, "trainer.schedule must be a cron schedule"),
    ("trainer-model", {"trainer": {"model": "oracle"}}, 'Unsupported value: "oracle"'),
    ("bad-bootstrap", {"kafka": {"bootstrapServers": "no port here"}}, "spec.kafka.bootstrapServers"),
    ("bad-sensor-type", {"sensors": {"mix": ["power", "plasma"]}}, 'Unsupported value: "plasma"'),
    (
        "inline-password",
        {"redis": {"password": "hunter2"}},
        'unknown field "spec.redis.password"',
    ),
    (
        "ingest-no-tokens",
        {"ingest": {"enabled": True}},
        "HTTP ingest needs ingest.tokenSecretRef",
    ),
    (
        "ingest-nothing",
        {"ingest": {"enabled": True, "http": {"enabled": False}}},
        "ingest.enabled needs ingest.http.enabled or ingest.mqtt.enabled",
    ),
    (
        "mqtt-no-broker",
        {"ingest": {"enabled": True, "http": {"enabled": False}, "mqtt": {"enabled": True}}},
        "ingest.mqtt.enabled needs ingest.mqtt.brokerURL",
    ),
    (
        "mqtt-two-replicas",
        {
            "ingest": {
                "enabled": True,
                "replicas": 2,
                "http": {"enabled": False},
                "mqtt": {"enabled": True, "brokerURL": "mqtt://mosquitto"},
            }
        },
        "ingest.replicas must be 1 while ingest.mqtt.enabled",
    ),
    (
        "mqtt-tls-plain",
        {"ingest": {"mqtt": {"brokerURL": "mqtt://mosquitto", "tls": {"caSecretRef": {"name": "ca"}}}}},
        "ingest.mqtt.tls applies to an mqtts:// brokerURL only",
    ),
    (
        "mqtt-password-no-user",
        {"ingest": {"mqtt": {"brokerURL": "mqtt://m", "passwordSecretRef": {"name": "m"}}}},
        "ingest.mqtt.passwordSecretRef needs ingest.mqtt.username",
    ),
    (
        "grid-names",
        {
            "ingest": {
                "grid": {
                    "sources": [
                        {"name": "gb", "adapter": "gb-carbon-intensity", "url": "https://a.example"},
                        {"name": "gb", "adapter": "gb-carbon-intensity", "url": "https://b.example"},
                    ]
                }
            }
        },
        "grid source names must be unique",
    ),
    (
        "entsoe-no-token",
        {"ingest": {"grid": {"sources": [{"name": "de", "adapter": "entsoe", "url": "https://e.example"}]}}},
        "an entsoe source needs tokenSecretRef",
    ),
    (
        "route-no-gateway",
        {"api": {"httpRoute": {"enabled": True, "hostnames": ["north.example.com"]}}},
        "api.httpRoute.enabled needs at least one parentRef",
    ),
    (
        "ingress-tls-no-hosts",
        {"api": {"ingress": {"enabled": True, "tlsSecretName": "north-tls"}}},
        "api.ingress.tlsSecretName needs api.ingress.hosts",
    ),
    ("ingress-url-host", {"api": {"ingress": {"hosts": ["https://north.example.com"]}}}, "spec.api.ingress.hosts[0]"),
]


@pytest.mark.parametrize(("name", "spec", "message"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_spec_is_rejected_with_a_clear_message(
    cluster: Cluster, name: str, spec: dict[str, Any], message: str
) -> None:
    manifest = {"apiVersion": "gridwatch.io/v1alpha1", "kind": "EnergySite", "metadata": {"name": name}}
    manifest["spec"] = spec
    proc = cluster.apply(manifest, FAULTS, check=False)
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stderr, proc.stderr
    assert cluster.get("energysite", name, FAULTS) is None


def test_a_complete_ingest_spec_is_accepted_and_defaulted(cluster: Cluster) -> None:
    ingest = {
        "enabled": True,
        "tokenSecretRef": {"name": "gateways"},
        "mqtt": {
            "enabled": True,
            "brokerURL": "mqtts://broker.mqtt.svc:8883",
            "username": "gw",
            "passwordSecretRef": {"name": "mqtt"},
            "tls": {"caSecretRef": {"name": "mqtt-ca"}, "clientCertSecretRef": {"name": "mqtt-client"}},
        },
        "grid": {
            "enabled": True,
            "sources": [
                {"name": "gb", "adapter": "gb-carbon-intensity", "url": "https://api.carbonintensity.org.uk"},
                {
                    "name": "de",
                    "adapter": "entsoe",
                    "url": "https://web-api.tp.entsoe.eu",
                    "region": "10Y1001A1001A82H",
                    "documentTypes": ["A44"],
                    "tokenSecretRef": {"name": "entsoe"},
                },
            ],
        },
    }
    manifest = {"apiVersion": "gridwatch.io/v1alpha1", "kind": "EnergySite", "metadata": {"name": "ingest-ok"}}
    manifest["spec"] = {"ingest": ingest}
    proc = cluster.kubectl(
        "apply", "--dry-run=server", "-o", "json", "-f", "-", "-n", FAULTS, stdin=json.dumps(manifest)
    )
    stored = json.loads(proc.stdout)["spec"]["ingest"]
    assert stored["http"] == {"enabled": True, "maxBodyBytes": 8388608}
    assert stored["tokenSecretRef"] == {"name": "gateways", "key": "tokens"}
    assert stored["grid"]["sources"][0]["intervalSeconds"] == 900


def test_names_and_immutable_fields_are_validated(cluster: Cluster, e2e_kafka: Kafka) -> None:
    too_long = site_manifest("a" * 41, e2e_kafka)
    proc = cluster.apply(too_long, FAULTS, check=False)
    assert proc.returncode != 0
    assert "the site name must be at most 40 characters" in proc.stderr

    # Transition rules: partitions only go up, the topic prefix never changes.
    name = "immutable"
    cluster.apply(site_manifest(name, e2e_kafka, paused=True, kafka={"partitions": 3, "topicPrefix": "imm"}), FAULTS)
    lower = site_manifest(name, e2e_kafka, paused=True, kafka={"partitions": 2, "topicPrefix": "imm"})
    proc = cluster.apply(lower, FAULTS, check=False)
    assert proc.returncode != 0
    assert "kafka.partitions can only be raised" in proc.stderr
    renamed = site_manifest(name, e2e_kafka, paused=True, kafka={"partitions": 3, "topicPrefix": "other"})
    proc = cluster.apply(renamed, FAULTS, check=False)
    assert proc.returncode != 0
    assert "kafka.topicPrefix cannot change after creation" in proc.stderr
    delete_site(cluster, name, FAULTS)


# --- section 5, bullet 4: drift, restart, failing helm, deletion --------------------------------


def test_manual_scale_and_delete_are_repaired(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> None:
    name = "drifty"
    cluster.apply(site_manifest(name, e2e_kafka, processor={"replicas": 2}), SOUTH)
    wait_ready(cluster, name, SOUTH)
    revisions = cluster.revisions(name, SOUTH)

    cluster.kubectl("scale", "deployment", f"{name}-processor", "-n", SOUTH, "--replicas=5")
    wait_until(
        lambda: (
            deployment_replicas(cluster, name, SOUTH)["processor"] == 2
            and (cluster.site(name, SOUTH)["status"].get("drift") or {}).get("repairs", 0) >= 1
        ),
        30,
        "the processor scaled back to 2",
    )
    uid = cluster.get("deployment", f"{name}-api", SOUTH)["metadata"]["uid"]  # type: ignore[index]
    cluster.kubectl("delete", "deployment", f"{name}-api", "-n", SOUTH, "--wait=true")
    recreated = wait_until(
        lambda: (d := cluster.get("deployment", f"{name}-api", SOUTH)) and d["metadata"]["uid"] != uid and d,
        30,
        "the API Deployment recreated",
    )
    assert recreated["metadata"]["annotations"]["meta.helm.sh/release-name"] == name
    site = wait_ready(cluster, name, SOUTH)
    drift = site["status"]["drift"]
    assert drift["repairs"] >= 2
    assert "was deleted; recreated" in drift["lastRepair"]
    reasons = [e["reason"] for e in cluster.events(name, SOUTH)]
    assert reasons.count("DriftRepaired") >= 1
    # Repairs patch live objects directly: no helm revision for them.
    assert cluster.revisions(name, SOUTH) == revisions
    delete_site(cluster, name, SOUTH)


def test_paused_site_is_left_alone_until_resumed(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> None:
    name = "pausable"
    cluster.apply(site_manifest(name, e2e_kafka), NORTH)
    wait_ready(cluster, name, NORTH)
    cluster.kubectl("patch", "energysite", name, "-n", NORTH, "--type=merge", "-p", '{"spec": {"paused": true}}')
    wait_until(
        lambda: condition(cluster.site(name, NORTH), "Progressing").get("reason") == "Paused", 20, "Paused condition"
    )
    # read before scaling: a status pass may record the 3 ready processors before a later read could
    before = cluster.site(name, NORTH)["metadata"]["resourceVersion"]
    cluster.kubectl("scale", "deployment", f"{name}-processor", "-n", NORTH, "--replicas=3")
    # Let several status passes go by (each stamps status.paused and the conditions): still 3.
    wait_until(
        lambda: cluster.site(name, NORTH)["status"]["components"]["processor"]["ready"] == 3, 20, "3 ready processors"
    )
    assert cluster.site(name, NORTH)["metadata"]["resourceVersion"] != before
    assert deployment_replicas(cluster, name, NORTH)["processor"] == 3
    assert cluster.revisions(name, NORTH) == [1]

    cluster.kubectl("patch", "energysite", name, "-n", NORTH, "--type=merge", "-p", '{"spec": {"paused": false}}')
    wait_until(lambda: deployment_replicas(cluster, name, NORTH)["processor"] == 1, 30, "drift repaired on resume")
    wait_ready(cluster, name, NORTH)
    delete_site(cluster, name, NORTH)


def test_operator_restart_creates_no_new_revision(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    sites = {("restart-a", NORTH), ("restart-b", SOUTH)}
    for name, ns in sites:
        autoscaling = {"enabled": True, "maxReplicas": 2}
        cluster.apply(site_manifest(name, e2e_kafka, processor={"autoscaling": autoscaling}), ns)
    for name, ns in sites:
        wait_ready(cluster, name, ns)
    before = {site: cluster.revisions(*site) for site in sites}

    operator.restart()
    # kopf resumes every existing site after a restart; wait until both were handled.
    wait_until(
        lambda: operator.log_since_start().count("Resuming is processed") >= len(sites),
        60,
        "the restarted operator to resume the sites",
    )
    for name, ns in sites:
        wait_ready(cluster, name, ns)
    assert {site: cluster.revisions(*site) for site in sites} == before
    for name, ns in sites:
        delete_site(cluster, name, ns)


def test_failing_helm_install_is_reported_as_degraded_then_recovers(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-deployments"},
        "spec": {"hard": {"count/deployments.apps": "0"}},
    }
    cluster.apply(quota, FAULTS)
    name = "quota-hit"
    cluster.apply(site_manifest(name, e2e_kafka), FAULTS)

    def degraded() -> dict[str, Any] | None:
        site = cluster.site(name, FAULTS)
        return site if condition(site, "Degraded").get("status") == "True" else None

    site = wait_until(degraded, 30, "Degraded=True")
    cond = condition(site, "Degraded")
    assert cond["reason"] == "HelmFailed"
    assert "exceeded quota: no-deployments" in cond["message"]
    assert condition(site, "Ready")["status"] == "False"
    assert condition(site, "Ready")["reason"] == "HelmFailed"
    assert "exceeded quota" in site["status"]["helm"]["error"]
    warnings = [e for e in cluster.events(name, FAULTS) if e["reason"] == "HelmFailed"]
    assert warnings and warnings[0]["type"] == "Warning"
    assert 'gridwatch_operator_reconcile_errors_total{component="operator",namespace="gw-faults",reason="helm"' in (
        operator.metrics()
    )

    # The operator retries by itself: once the quota is gone, the site becomes Ready.
    cluster.kubectl("delete", "resourcequota", "no-deployments", "-n", FAULTS)
    site = wait_ready(cluster, name, FAULTS, timeout=60)
    assert condition(site, "Degraded")["status"] == "False"
    assert "error" not in site["status"]["helm"]
    delete_site(cluster, name, FAULTS)


def test_deleting_a_site_removes_every_release_object_and_the_finalizer(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    name = "short-lived"
    cluster.apply(site_manifest(name, e2e_kafka, api={"autoscaling": {"enabled": True}}), SOUTH)
    site = wait_ready(cluster, name, SOUTH)
    assert "gridwatch.io/helm-release" in site["metadata"]["finalizers"]
    kinds = "deployments,replicasets,pods,services,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets"
    kinds += ",networkpolicies,horizontalpodautoscalers"
    selector = f"app.kubernetes.io/instance={name}"
    assert len(cluster.items(kinds, SOUTH, selector)) >= 15
    assert cluster.items("configmaps", SOUTH, f"owner=helm,name={name}")  # helm's release record

    delete_site(cluster, name, SOUTH)  # returns once the finalizer is gone and the object deleted
    assert cluster.get("energysite", name, SOUTH) is None
    wait_until(lambda: cluster.items(kinds, SOUTH, selector) == [], 60, "every release object gone")
    assert cluster.items("configmaps", SOUTH, f"owner=helm,name={name}") == []
    wait_until(lambda: "Uninstalled" in {e["reason"] for e in cluster.events(name, SOUTH)}, 10, "Uninstalled event")


# --- section 5, bullet 5: Pod Security "restricted" ---------------------------------------------


def test_release_installs_into_a_restricted_namespace_without_warnings(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    labels = cluster.get("namespace", NORTH)["metadata"]["labels"]  # type: ignore[index]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    chart = str(REPO / "charts" / "energy-site")

    # The chart as installed by a person: no warnings from helm or the API server.
    proc = cluster.helm("install", "pss-check", chart, "-n", NORTH, "--set", "api.autoscaling.enabled=true")
    assert "warning" not in proc.stderr.lower(), proc.stderr
    wait_until(lambda: sum(running_pods(cluster, "pss-check", NORTH).values()) == 4, 30, "pods admitted and Running")
    cluster.helm("uninstall", "pss-check", "-n", NORTH, "--wait")

    # The same objects through a server-side dry run, and a control showing the check can see a
    # violation when the security context is weakened.
    def server_warnings(*sets: str, admitted: bool = True) -> str:
        args = [a for kv in sets for a in ("--set", kv)]
        rendered = cluster.helm("template", "pss-dry", chart, "-n", NORTH, *args).stdout
        out = cluster.kubectl("apply", "-n", NORTH, "--dry-run=server", "-f", "-", stdin=rendered, check=admitted)
        return out.stderr

    assert server_warnings() == ""
    # weakened, the Deployments get warnings and the helm test's bare Pod is refused outright
    weak = server_warnings("securityContext.allowPrivilegeEscalation=true", admitted=False)
    assert 'pods "pss-dry-api-test" is forbidden: violates PodSecurity' in weak, weak
    assert 'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in weak, weak

    # Releases made by the operator: no HelmWarnings events, no pods refused by admission.
    name = "pss-site"
    cluster.apply(site_manifest(name, e2e_kafka), NORTH)
    wait_ready(cluster, name, NORTH)
    assert "HelmWarnings" not in {e["reason"] for e in cluster.events(name, NORTH)}
    refused = [
        e
        for e in cluster.items("events", NORTH)
        if e["reason"] == "FailedCreate" and "PodSecurity" in e.get("message", "")
    ]
    assert refused == []
    delete_site(cluster, name, NORTH)


# --- section 5, bullet 6: least privilege ---------------------------------------------------------

SA = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}"
ALLOWED = [
    ("list", "energysites.gridwatch.io", NORTH),
    ("watch", "energysites.gridwatch.io", SOUTH),
    ("patch", "energysites.gridwatch.io/status", NORTH),
    ("create", "events", FAULTS),
    ("create", "deployments.apps", NORTH),
    ("patch", "deployments.apps/scale", SOUTH),
    ("create", "configmaps", NORTH),
    ("create", "horizontalpodautoscalers.autoscaling", NORTH),
    ("create", "networkpolicies.networking.k8s.io", SOUTH),
    ("create", "roles.rbac.authorization.k8s.io", NORTH),
    ("get", "secrets", NORTH),  # the Kafka credentials an EnergySite references (docs/security.md)
]
FORBIDDEN = [
    ("delete", "nodes", None),
    ("list", "nodes", None),
    ("get", "secrets", "kube-system"),
    ("list", "secrets", NORTH),  # helm's configmap driver: Secrets only read by name, never listed
    ("create", "secrets", NORTH),
    ("create", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("escalate", "roles.rbac.authorization.k8s.io", NORTH),
    ("bind", "clusterroles.rbac.authorization.k8s.io", None),
    ("impersonate", "users", None),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("create", "pods/exec", NORTH),
    ("create", "pods", NORTH),
    ("delete", "namespaces", None),
    ("create", "deployments.apps", "kube-system"),
    ("create", "deployments.apps", "default"),
    ("list", "energysites.gridwatch.io", "default"),
    ("create", "serviceaccounts/token", NORTH),
]


def can_i(cluster: Cluster, verb: str, resource: str, namespace: str | None) -> bool:
    resource, _, subresource = resource.partition("/")  # kubectl reads "a/b" as resource a named b
    args = ["auth", "can-i", verb, resource, f"--as={SA}"] + ([f"--subresource={subresource}"] if subresource else [])
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    proc = cluster.kubectl(*args, check=False)
    return proc.stdout.strip() == "yes"


def test_operator_service_account_is_least_privilege(cluster: Cluster) -> None:
    denied = [case for case in ALLOWED if not can_i(cluster, *case)]
    granted = [case for case in FORBIDDEN if can_i(cluster, *case)]
    assert denied == [], f"the operator needs: {denied}"
    assert granted == [], f"the operator must not: {granted}"


# --- several sites, topics, autoscaling, metrics -------------------------------------------------


def test_several_sites_in_several_namespaces(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> None:
    sites = [("east", NORTH), ("west", NORTH), ("east", SOUTH)]
    postgres = {"enabled": True, "host": "postgres.data.svc", "passwordSecretRef": {"name": "west-postgres"}}
    for name, ns in sites:
        extra = {"history": postgres} if name == "west" else {}
        cluster.apply(site_manifest(name, e2e_kafka, **extra), ns)  # "east" twice: no topicPrefix needed
    for name, ns in sites:
        site = wait_ready(cluster, name, ns)
        assert site["status"]["siteId"] == f"{ns}.{name}"
        assert site["status"]["kafka"]["topics"][f"{ns}.{name}.readings"] == "created"
        want = {"simulator": 1, "processor": 1, "api": 1}
        if name == "west":  # PostgreSQL adds the history writer and the alert engine
            want |= {"history": 1, "alerts": 1}
        assert deployment_replicas(cluster, name, ns) == want
        assert set(site["status"]["components"]) == set(want)
    for name, ns in sites:
        assert len(topic_partitions(e2e_kafka, f"{ns}.{name}")) == 6
        delete_site(cluster, name, ns)


def test_the_trainer_cronjob_follows_spec_trainer(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka
) -> None:
    name = "trained"
    postgres = {"enabled": True, "host": "postgres.data.svc", "passwordSecretRef": {"name": "trained-postgres"}}
    trainer = {"schedule": "5 1 * * 0", "model": "detector", "promoteMargin": 0.1}
    cluster.apply(site_manifest(name, e2e_kafka, history=postgres, trainer=trainer, timezone="Europe/Berlin"), SOUTH)
    wait_ready(cluster, name, SOUTH)
    job = cluster.get("cronjob", f"{name}-trainer", SOUTH)
    assert job is not None
    assert (job["spec"]["schedule"], job["spec"]["timeZone"]) == ("5 1 * * 0", "Europe/Berlin")
    [container] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["train", "--model", "detector"]
    assert {"name": "GRIDWATCH_TRAIN_PROMOTE_MARGIN", "value": "0.1"} in container["env"]

    patch = {"spec": {"trainer": {"schedule": "@hourly"}}}
    cluster.kubectl("patch", "energysite", name, "-n", SOUTH, "--type=merge", "-p", json.dumps(patch))
    wait_until(
        lambda: (cluster.get("cronjob", f"{name}-trainer", SOUTH) or {}).get("spec", {}).get("schedule") == "@hourly",
        30,
        "the CronJob to take the new schedule",
    )
    off = {"spec": {"trainer": {"enabled": False}}}
    cluster.kubectl("patch", "energysite", name, "-n", SOUTH, "--type=merge", "-p", json.dumps(off))
    wait_until(lambda: cluster.get("cronjob", f"{name}-trainer", SOUTH) is None, 30, "the CronJob to be removed")
    delete_site(cluster, name, SOUTH)


def test_partitions_are_raised_and_never_lowered(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> None:
    name = "grow"
    # Someone made the dead-letter topic bigger than the site asks for.
    admin = AdminClient({"bootstrap.servers": e2e_kafka.bootstrap})
    prefix = f"{SOUTH}.{name}"
    admin.create_topics([NewTopic(f"{prefix}.dlq", num_partitions=8, replication_factor=1)])[f"{prefix}.dlq"].result(10)
    cluster.apply(site_manifest(name, e2e_kafka, kafka={"partitions": 2}), SOUTH)
    site = wait_ready(cluster, name, SOUTH)
    assert site["status"]["kafka"]["topics"][f"{prefix}.dlq"] == "kept 8 > 2 asked"
    assert "partitions are never lowered" in site["status"]["kafka"]["message"]
    assert "PartitionsKept" in {e["reason"] for e in cluster.events(name, SOUTH)}

    cluster.kubectl(
        "patch", "energysite", name, "-n", SOUTH, "--type=merge", "-p", '{"spec":{"kafka":{"partitions":4}}}'
    )
    wait_until(lambda: topic_partitions(e2e_kafka, prefix)[f"{prefix}.readings"] == 4, 30, "readings raised to 4")
    site = wait_ready(cluster, name, SOUTH)
    assert site["status"]["kafka"]["topics"][f"{prefix}.readings"] == "raised from 2 to 4"
    assert topic_partitions(e2e_kafka, prefix)[f"{prefix}.dlq"] == 8
    delete_site(cluster, name, SOUTH)


def reading_batch(site: str, gateway: str, n: int) -> bytes:
    """A gateway batch of n readings on the wire."""
    return encode(
        ReadingBatch(
            schema_version=SCHEMA_VERSION,
            site=site,
            gateway=gateway,
            seq=0,
            sensor_ids=[f"{gateway}-s{i}" for i in range(n)],
            machines=["m1"] * n,
            types=[SensorType.POWER] * n,
            ts=[time.time()] * n,
            values=[1.0] * n,
        )
    )


def heartbeat(site: str) -> bytes:
    """A producer heartbeat on the wire (no reading)."""
    return encode(
        Heartbeat(
            schema_version=SCHEMA_VERSION, site=site, producer="e2e", ts=time.time(), sensors=0, readings_sent=0, rate=0
        )
    )


def test_processors_scale_with_consumer_lag(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> None:
    name = "laggy"
    autoscaling = {"enabled": True, "minReplicas": 1, "maxReplicas": 3, "lagPerReplica": 100, "cooldownSeconds": 4}
    cluster.apply(
        site_manifest(name, e2e_kafka, kafka={"partitions": 4}, processor={"autoscaling": autoscaling}), SOUTH
    )
    wait_ready(cluster, name, SOUTH)
    assert deployment_replicas(cluster, name, SOUTH)["processor"] == 1

    # 25 gateway batches of 10 readings (and 5 heartbeats, which carry none): 30 messages, 250 readings, and
    # lag 250 readings / 100 per replica = 3 (within max 3 and 4 partitions). Each partition's lag fits the
    # operator's sample, so the readings are counted exactly.
    producer = Producer({"bootstrap.servers": e2e_kafka.bootstrap})
    for i in range(30):
        value = reading_batch(f"{SOUTH}.{name}", f"gw-{i}", 10) if i < 25 else heartbeat(f"{SOUTH}.{name}")
        producer.produce(f"{SOUTH}.{name}.readings", key=str(i % 16).encode(), value=value)
    assert producer.flush(10) == 0
    wait_until(lambda: deployment_replicas(cluster, name, SOUTH)["processor"] == 3, 30, "3 processors")
    site = wait_until(
        lambda: (s := ready(cluster, name, SOUTH)) and s["status"]["processors"] == "3/3" and s, 30, "3/3"
    )
    decision = site["status"]["scaling"]["lastDecision"]
    # a lag sample taken while the messages were still arriving may scale 1 -> 2 first; the decision that
    # reached 3 must come from the whole lag
    assert decision["to"] == 3 and decision["from"] in (1, 2), decision
    assert decision["reason"].startswith("scale up: lag 250 readings / 100 per replica = 3")
    assert (decision["lag"], decision["unit"]) == (250, "readings")
    assert (site["status"]["consumerLag"], site["status"]["consumerLagReadings"]) == (30, 250)
    assert site["status"]["lagEstimate"]["method"] == "exact"
    row = cluster.kubectl("get", "esite", name, "-n", SOUTH, "--no-headers").stdout.split()
    assert row[3:5] == ["3/3", "250"]
    # drift repair keeps the autoscaler's choice, not the chart's: scaled by hand to 1, restored to 3
    cluster.kubectl("scale", "deployment", f"{name}-processor", "-n", SOUTH, "--replicas=1")
    wait_until(lambda: deployment_replicas(cluster, name, SOUTH)["processor"] == 3, 30, "3 processors again")

    # The processors catch up (the group commits the log end): back to minReplicas after the cooldown.
    consumer = Consumer({"bootstrap.servers": e2e_kafka.bootstrap, "group.id": f"{SOUTH}.{name}.processor"})
    ends = []
    for partition in range(4):
        _, end = consumer.get_watermark_offsets(TopicPartition(f"{SOUTH}.{name}.readings", partition), timeout=10)
        ends.append(TopicPartition(f"{SOUTH}.{name}.readings", partition, end))
    consumer.commit(offsets=ends, asynchronous=False)
    consumer.close()
    wait_until(lambda: deployment_replicas(cluster, name, SOUTH)["processor"] == 1, 30, "back to 1 processor")
    site = wait_until(
        lambda: (s := ready(cluster, name, SOUTH)) and s["status"]["processors"] == "1/1" and s, 30, "1/1"
    )
    assert (site["status"]["consumerLag"], site["status"]["consumerLagReadings"]) == (0, 0)
    assert site["status"]["scaling"]["lastDecision"]["to"] == 1
    assert site["status"]["scaling"]["lastEvaluation"]["reason"].startswith(("steady", "scale down"))
    scaled = [e["message"] for e in cluster.events(name, SOUTH) if e["reason"] == "Scaled"]
    assert any("processor 1 -> 3" in m for m in scaled) and any("processor 3 -> 1" in m for m in scaled)
    # scaling went through the Deployment's scale subresource: no Helm revision per step, and the release's
    # manifest leaves the processors' replicas to the operator
    assert cluster.revisions(name, SOUTH) == [1]
    manifest = cluster.helm("get", "manifest", name, "-n", SOUTH).stdout
    docs = [d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "Deployment"]
    (processor,) = [d for d in docs if d["metadata"]["name"] == f"{name}-processor"]
    assert "replicas" not in processor["spec"]
    text = operator.metrics()
    for direction in ("up", "down"):
        assert (
            f'gridwatch_operator_scaling_decisions_total{{component="operator",direction="{direction}",'
            f'namespace="{SOUTH}",site="{SOUTH}.{name}"}} 1.0'
        ) in text
    delete_site(cluster, name, SOUTH)


def test_operator_metrics_are_exposed(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> None:
    name = "metered"
    cluster.apply(site_manifest(name, e2e_kafka), NORTH)
    wait_ready(cluster, name, NORTH)
    text = operator.metrics()
    labels = f'component="operator",namespace="{NORTH}",site="{NORTH}.{name}"'
    assert f"gridwatch_operator_reconcile_seconds_count{{{labels}}}" in text
    assert f"gridwatch_operator_helm_revision{{{labels}}} 1.0" in text
    assert "# TYPE gridwatch_operator_reconcile_errors_total counter" in text
    assert "# TYPE gridwatch_operator_scaling_decisions_total counter" in text
    delete_site(cluster, name, NORTH)
    assert f"gridwatch_operator_helm_revision{{{labels}}}" not in operator.metrics()


# --- GET /api/site reads the EnergySite as the site's own ServiceAccount ---------------------------


def test_api_site_route_reads_the_status_with_the_charts_role(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka, e2e_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "self-aware"
    cluster.apply(site_manifest(name, e2e_kafka), NORTH)
    wait_ready(cluster, name, NORTH)
    # The chart's ServiceAccount (named after the site) may get this one EnergySite, nothing else.
    kubeconfig = cluster.token_kubeconfig(name, NORTH, e2e_dir / f"{name}.kubeconfig")
    monkeypatch.setenv("GRIDWATCH_API_K8S_SITE_NAMESPACE", NORTH)
    monkeypatch.setenv("GRIDWATCH_API_K8S_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("GRIDWATCH_SITE", name)
    app = FastAPI()
    app.state.settings = ApiSettings()
    app.include_router(site_route.router, prefix="/api")
    with TestClient(app) as client:
        body = client.get("/api/site").json()
        assert body["mode"] == "kubernetes"
        assert (body["site"], body["namespace"], body["ready"]) == (name, NORTH, True)
        assert body["components"]["processor"] == {"desired": 1, "ready": 1}
        assert body["helm"]["revision"] == 1

        monkeypatch.setenv("GRIDWATCH_SITE", "plant-north")  # another site: the Role names only its own
        app.state.settings = ApiSettings()
        response = client.get("/api/site")
        assert response.status_code == 502
        assert "may not read EnergySite 'gw-north/plant-north'" in response.json()["detail"]
    delete_site(cluster, name, NORTH)
