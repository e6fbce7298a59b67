"""Engine KEDA on the kwok control plane with KEDA's real CRDs: a clear condition while they are absent, then the
chart's ScaledObject (and a TriggerAuthentication) admitted and schema-validated by the API server, and an operator
that never scales the processors itself.

KEDA's CRDs come from the Go module github.com/kedacore/keda/v2 (tests/infra/k8s/fetch-keda-crds.sh, cached);
KEDA's controller is not run, so nothing turns the ScaledObject into an HPA here: the test scales the Deployment
by hand where KEDA's HPA would.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer

from tests.e2e.cluster import REPO, Cluster, OperatorProcess, condition, wait_until
from tests.e2e.test_operator import NORTH, delete_site, deployment_replicas, reading_batch, site_manifest, wait_ready
from tests.infra.services import Kafka

FETCH = REPO / "tests" / "infra" / "k8s" / "fetch-keda-crds.sh"
CRDS = ("scaledobjects.keda.sh", "triggerauthentications.keda.sh")
SITE = "kedasite"
# 10 readings per message: lagThreshold = ceil(100 readings / 10 readings per message) = 10 messages
AUTOSCALING = {
    "enabled": True,
    "engine": "KEDA",
    "minReplicas": 1,
    "maxReplicas": 2,
    "lagPerReplica": 100,
    "readingsPerMessage": 10,
    "cooldownSeconds": 0,
}


@pytest.fixture(scope="module")
def keda_crds() -> Path:
    """crds/ of KEDA's cached CRDs (fetched on first use)."""
    proc = subprocess.run(["bash", str(FETCH)], capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1]) / "crds"


@pytest.fixture(scope="module")
def keda_site(cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka) -> Iterator[str]:
    """A site with engine KEDA; afterwards the site, then KEDA's CRDs, are removed (other tests run without KEDA)."""
    for crd in CRDS:
        assert cluster.get("crd", crd) is None, f"{crd} exists before the test: it must start without KEDA"
    manifest = site_manifest(
        SITE, e2e_kafka, kafka={"partitions": 2}, processor={"replicas": 1, "autoscaling": AUTOSCALING}
    )
    cluster.apply(manifest, NORTH)
    yield SITE
    delete_site(cluster, SITE, NORTH)
    for crd in CRDS:
        cluster.kubectl("delete", "crd", crd, "--ignore-not-found", "--wait=true", "--timeout=60s")


def keda_condition(cluster: Cluster) -> dict[str, Any]:
    return condition(cluster.site(SITE, NORTH), "KEDAScaling")


def test_keda_scaled_object_is_admitted_and_the_operator_does_not_scale(
    cluster: Cluster, operator: OperatorProcess, e2e_kafka: Kafka, keda_site: str, keda_crds: Path, tmp_path: Path
) -> None:
    # 1. No KEDA on the cluster: a clear condition, not a crash; processors fixed at minReplicas.
    wait_ready(cluster, SITE, NORTH)
    wait_until(lambda: keda_condition(cluster).get("reason") == "KEDANotInstalled", 30, "KEDANotInstalled")
    cond = keda_condition(cluster)
    assert cond["status"] == "False"
    assert "serves no scaledobjects.keda.sh (keda.sh/v1alpha1)" in cond["message"]
    status = cluster.site(SITE, NORTH)["status"]
    assert status["scaling"]["engine"] == "KEDA" and status["scaling"]["keda"]["available"] is False
    assert deployment_replicas(cluster, SITE, NORTH)["processor"] == 1

    # Lag the operator's own engine would scale up for: 30 batches of 10 readings = 300 readings / 100 = 3,
    # capped at 2. The operator measures it and scales nothing.
    producer = Producer({"bootstrap.servers": e2e_kafka.bootstrap})
    for i in range(30):
        producer.produce(
            f"{NORTH}.{SITE}.readings", key=str(i).encode(), value=reading_batch(f"{NORTH}.{SITE}", f"g{i}", 10)
        )
    assert producer.flush(10) == 0
    wait_until(lambda: cluster.site(SITE, NORTH)["status"].get("consumerLagReadings") == 300, 30, "lag 300 readings")
    time.sleep(5)  # a few more autoscale passes (2 s apart) go by
    assert deployment_replicas(cluster, SITE, NORTH)["processor"] == 1
    assert "lastDecision" not in cluster.site(SITE, NORTH)["status"]["scaling"]

    # 2. KEDA's real CRDs installed: the next autoscale pass renders the ScaledObject, which the API server admits.
    install_crds(cluster, keda_crds)
    wait_until(lambda: keda_condition(cluster).get("status") == "True", 60, "KEDAScaling True")
    cond = keda_condition(cluster)
    assert cond["reason"] == "ScaledObjectRendered"
    assert "KEDA owns processor scaling through ScaledObject kedasite-processor" in cond["message"]
    assert "lagThreshold 10 messages" in cond["message"]
    scaled = cluster.get("scaledobjects.keda.sh", f"{SITE}-processor", NORTH)
    assert scaled is not None, "the ScaledObject was not created"
    assert scaled["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    body = scaled["spec"]
    assert body["scaleTargetRef"]["name"] == f"{SITE}-processor"
    assert (body["minReplicaCount"], body["maxReplicaCount"], body["cooldownPeriod"]) == (1, 2, 0)
    [trigger] = body["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == f"{NORTH}.{SITE}.processor"
    assert trigger["metadata"]["topic"] == f"{NORTH}.{SITE}.readings"
    assert trigger["metadata"]["bootstrapServers"] == e2e_kafka.bootstrap
    assert (trigger["metadata"]["lagThreshold"], trigger["metadata"]["allowIdleConsumers"]) == ("10", "false")
    status = cluster.site(SITE, NORTH)["status"]["scaling"]
    assert status["keda"]["lagThresholdMessages"] == 10 and status["keda"]["available"] is True
    assert any(e["reason"] == "KEDAChanged" for e in cluster.events(SITE, NORTH))

    # The schema is enforced, so admission above means validation: a ScaledObject with a string replica count is
    # refused by the same API server.
    bad = {**scaled, "metadata": {"name": "refused", "namespace": NORTH}, "spec": {**body, "maxReplicaCount": "two"}}
    proc = cluster.kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(bad), check=False)
    assert proc.returncode != 0 and "maxReplicaCount" in proc.stderr, proc.stderr

    # 3. KEDA owns the replicas: with the lag still at 300 readings the operator's own engine would scale to 2,
    # and after a change by hand (where KEDA's HPA would make it) its drift repair would restore its own count.
    # It does neither.
    time.sleep(5)  # several autoscale, status and drift passes (1-2 s apart) go by
    assert cluster.site(SITE, NORTH)["status"]["consumerLagReadings"] == 300
    assert deployment_replicas(cluster, SITE, NORTH)["processor"] == 1
    cluster.kubectl("scale", "deployment", f"{SITE}-processor", "-n", NORTH, "--replicas=2")
    wait_until(lambda: deployment_replicas(cluster, SITE, NORTH)["processor"] == 2, 30, "2 processors")
    time.sleep(5)
    assert deployment_replicas(cluster, SITE, NORTH)["processor"] == 2
    assert "lastDecision" not in cluster.site(SITE, NORTH)["status"]["scaling"]
    reasons = [e["reason"] for e in cluster.events(SITE, NORTH)]
    assert "Scaled" not in reasons and "DriftRepaired" not in reasons, reasons


def install_crds(cluster: Cluster, crds: Path) -> None:
    """KEDA's ScaledObject and TriggerAuthentication CRDs, applied (idempotent) and established."""
    for name in ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml"):
        cluster.kubectl("apply", "--server-side", "-f", str(crds / name))
    for crd in CRDS:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")


def test_trigger_authentication_for_sasl_and_tls_is_admitted(cluster: Cluster, keda_site: str, keda_crds: Path) -> None:
    """The chart's TriggerAuthentication and authenticated ScaledObject for a SASL_SSL site, server-side dry run."""
    install_crds(cluster, keda_crds)
    values = {
        "siteId": f"{NORTH}.authsite",
        "processor": {"keda": {"enabled": True, "maxReplicas": 2}},
        "kafka": {
            "partitions": 2,
            "tls": {"enabled": True, "caSecret": {"name": "kafka-ca", "key": "ca.crt"}, "clientSecret": {"name": "kc"}},
            "sasl": {
                "enabled": True,
                "mechanism": "SCRAM-SHA-512",
                "username": "north",
                "passwordSecret": {"name": "kpw"},
            },
        },
    }
    chart = str(REPO / "charts" / "energy-site")
    rendered = cluster.helm(
        "template",
        "authsite",
        chart,
        "-n",
        NORTH,
        "--values",
        "-",
        "--api-versions",
        "keda.sh/v1alpha1/ScaledObject",
        stdin=json.dumps(values),
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in ("ScaledObject", "TriggerAuthentication")]
    assert sorted(d["kind"] for d in docs) == ["ScaledObject", "TriggerAuthentication"]
    proc = cluster.kubectl(
        "create", "--dry-run=server", "-n", NORTH, "-o", "json", "-f", "-", stdin=yaml.safe_dump_all(docs), check=False
    )
    assert proc.returncode == 0, proc.stderr
    items, text, decoder = [], proc.stdout.strip(), json.JSONDecoder()
    while text:  # one JSON object per created document
        obj, end = decoder.raw_decode(text)
        items.append(obj)
        text = text[end:].strip()
    auth = next(i for i in items if i["kind"] == "TriggerAuthentication")
    assert [r["parameter"] for r in auth["spec"]["secretTargetRef"]] == ["password", "ca", "cert", "key"]
    scaled = next(i for i in items if i["kind"] == "ScaledObject")
    assert scaled["spec"]["triggers"][0]["authenticationRef"] == {"name": "authsite-kafka"}
