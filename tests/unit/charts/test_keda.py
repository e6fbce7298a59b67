"""The energy-site chart with engine KEDA: the ScaledObject and TriggerAuthentication `helm template` renders from
the operator's values, and the refusal without keda.sh/v1alpha1."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from gridwatch_operator.values import helm_values

from tests.unit.charts.test_render import CHARTS, HELM, needs_helm
from tests.unit.operator.test_crd import defaulted_spec

KEDA_API = "keda.sh/v1alpha1/ScaledObject"
AUTO = {"enabled": True, "engine": "KEDA", "minReplicas": 1, "maxReplicas": 2, "cooldownSeconds": 90}


def template(tmp_path: Path, spec: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    values = tmp_path / "values.yaml"
    full = defaulted_spec(spec)
    values.write_text(
        yaml.safe_dump(helm_values("plant-north", full, {}, default_image="img:1", namespace="gw", keda_available=True))
    )
    assert HELM is not None
    cmd = [HELM, "template", "plant-north", str(CHARTS / "energy-site"), "-n", "gw", "-f", str(values), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def docs(proc: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], dict[str, Any]]:
    assert proc.returncode == 0, proc.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(proc.stdout) if d}


@needs_helm
def test_a_scaled_object_with_the_kafka_trigger_targets_the_processors(tmp_path: Path) -> None:
    spec = {"kafka": {"partitions": 2, "bootstrapServers": "k1:9092,k2:9092"}, "processor": {"autoscaling": AUTO}}
    out = docs(template(tmp_path, spec, "--api-versions", KEDA_API))
    scaled = out[("ScaledObject", "plant-north-processor")]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    body = scaled["spec"]
    assert body["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "plant-north-processor"}
    assert (body["minReplicaCount"], body["maxReplicaCount"]) == (1, 2)
    assert body["cooldownPeriod"] == 90
    assert (
        body["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 90
    )
    [trigger] = body["triggers"]
    assert trigger["type"] == "kafka" and "authenticationRef" not in trigger
    assert trigger["metadata"] == {
        "bootstrapServers": "k1:9092,k2:9092",
        "consumerGroup": "gw.plant-north.processor",  # the processors' group (GRIDWATCH_SITE gw.plant-north)
        "topic": "gw.plant-north.readings",
        "lagThreshold": "50",  # 25000 readings / 500 readings per message (CRD defaults)
        "activationLagThreshold": "0",
        "allowIdleConsumers": "false",
        "offsetResetPolicy": "earliest",
    }
    # KEDA's HPA owns the replicas: the processor Deployment renders none, the others keep theirs
    deployment = out[("Deployment", "plant-north-processor")]
    assert "replicas" not in deployment["spec"]
    assert out[("Deployment", "plant-north-api")]["spec"]["replicas"] == 2
    assert not any(kind == "TriggerAuthentication" for kind, _ in out)


@needs_helm
def test_max_replicas_are_capped_at_the_partitions_and_the_topic_prefix_is_used(tmp_path: Path) -> None:
    spec = {
        "kafka": {"partitions": 2, "topicPrefix": "eu1"},
        # the CRD refuses maxReplicas above the partitions; the chart caps them anyway (values from elsewhere)
        "processor": {"autoscaling": {**AUTO, "maxReplicas": 2}},
    }
    values = tmp_path / "cap.yaml"
    values.write_text(yaml.safe_dump({"processor": {"keda": {"maxReplicas": 8}}}))
    out = docs(template(tmp_path, spec, "--api-versions", KEDA_API, "-f", str(values)))
    body = out[("ScaledObject", "plant-north-processor")]["spec"]
    assert body["maxReplicaCount"] == 2
    assert body["triggers"][0]["metadata"]["topic"] == "eu1.readings"
    assert body["triggers"][0]["metadata"]["consumerGroup"] == "eu1.processor"


@needs_helm
def test_tls_and_sasl_go_through_a_trigger_authentication_on_the_workloads_secrets(tmp_path: Path) -> None:
    kafka = {
        "tls": {
            "enabled": True,
            "caSecretRef": {"name": "kafka-ca", "key": "ca.pem"},
            "clientCertSecretRef": {"name": "kc"},
        },
        "sasl": {"mechanism": "SCRAM-SHA-256", "username": "north", "passwordSecretRef": {"name": "kpw"}},
    }
    out = docs(template(tmp_path, {"kafka": kafka, "processor": {"autoscaling": AUTO}}, "--api-versions", KEDA_API))
    trigger = out[("ScaledObject", "plant-north-processor")]["spec"]["triggers"][0]
    assert trigger["authenticationRef"] == {"name": "plant-north-kafka"}
    assert (trigger["metadata"]["tls"], trigger["metadata"]["sasl"]) == ("enable", "scram_sha256")
    auth = out[("TriggerAuthentication", "plant-north-kafka")]["spec"]
    assert auth["env"] == [
        {"parameter": "username", "name": "GRIDWATCH_KAFKA_SASL_USERNAME", "containerName": "processor"}
    ]
    assert auth["secretTargetRef"] == [
        {"parameter": "password", "name": "kpw", "key": "password"},
        {"parameter": "ca", "name": "kafka-ca", "key": "ca.pem"},
        {"parameter": "cert", "name": "kc", "key": "tls.crt"},
        {"parameter": "key", "name": "kc", "key": "tls.key"},
    ]
    # the user name KEDA reads from the processor container is the one the workloads use
    env = out[("Deployment", "plant-north-processor")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "GRIDWATCH_KAFKA_SASL_USERNAME", "value": "north"} in env


@needs_helm
def test_without_keda_served_rendering_fails_with_a_clear_message(tmp_path: Path) -> None:
    proc = template(tmp_path, {"processor": {"autoscaling": AUTO}})
    assert proc.returncode != 0
    assert "processor.keda.enabled needs KEDA: the cluster serves no keda.sh/v1alpha1 ScaledObject" in proc.stderr


@needs_helm
def test_the_default_site_renders_no_keda_objects(tmp_path: Path) -> None:
    out = docs(template(tmp_path, {}, "--api-versions", KEDA_API))
    assert not any(kind in ("ScaledObject", "TriggerAuthentication") for kind, _ in out)
