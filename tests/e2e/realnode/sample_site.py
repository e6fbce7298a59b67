"""The sample site on real pods, shared by the real-node modules that need it (brought up once: conftest's `site`).

The operator runs in-cluster from its image and brings the site up; Kafka, Redis and PostgreSQL run on the host (the
product's own launchers, gridwatch.local), listening also on the node's address, which pods reach directly
(docs/control-plane.md, "The whole site on real pods").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import redis
import yaml
from gridwatch.local.kafka import Kafka
from gridwatch.local.postgres import Postgres
from gridwatch.local.process import free_port
from gridwatch.local.redis import Redis
from psycopg import sql

from tests.e2e.cluster import REPO, Cluster, wait_until
from tests.infra.controlplane import ControlPlane

if TYPE_CHECKING:
    from tests.e2e.realnode.conftest import Image

OPERATOR_NS = "gridwatch-system"
SITE_NS = "gw-site"
SITE = "plant-north"
SENSORS = 120
# With storage on, the simulator also simulates the sample's battery, which reports like one more sensor.
REPORTING = SENSORS + 1
API_TOKEN = "realnode-api-token"
REDIS_PASSWORD = "realnode-redis-password"  # pods authenticate with it, from a Secret
DB_PASSWORD = "realnode-db-password"  # what pods authenticate with (scram-sha-256), from a Secret
POD_CIDR = "10.245.0.0/24"  # start-node.sh's bridge subnet: the source address of every pod
COMPONENTS = {"simulator", "processor", "history", "alerts", "forecaster", "storage", "rebalancer", "api"}
BUSYBOX = "docker.io/library/busybox:gridwatch"
API_HPA_SCALE_DOWN_SECONDS = 15  # chart value api.autoscaling.scaleDownStabilizationSeconds, via siteValues


def node_ip(plane: ControlPlane) -> str:
    """The machine's address the API server advertises and the kubelet registers as the node's InternalIP."""
    for line in (plane.workdir / "env").read_text().splitlines():
        if line.startswith("NODE_IP="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("the plane was not started with K8S_REAL_NODE=1 (no NODE_IP in its env)")


class PodRedis(Redis):
    """Redis on 127.0.0.1 and on the node's address, with a password (off loopback, Redis refuses clients without)."""

    def __init__(self, workdir: Path, ip: str) -> None:
        super().__init__(workdir)
        self.ip = ip

    def _command(self) -> list[str]:
        cmd = super()._command()
        at = cmd.index("--bind")
        return [*cmd[: at + 2], self.ip, *cmd[at + 2 :], "--requirepass", REDIS_PASSWORD]

    def _is_ready(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        """A client on the loopback listener."""
        return redis.Redis(host="127.0.0.1", port=self.port, password=REDIS_PASSWORD, socket_timeout=2)


class PodPostgres(Postgres):
    """PostgreSQL on 127.0.0.1 (trust, for the test) and the node's address (pods' subnet only, with a password)."""

    def __init__(self, workdir: Path, ip: str) -> None:
        super().__init__(workdir)
        self.ip = ip

    def _prepare(self) -> None:
        super()._prepare()
        hba = self.data_dir / "pg_hba.conf"
        rule = f"host all all {POD_CIDR} scram-sha-256\n"
        if rule not in hba.read_text():
            with hba.open("a") as fh:
                fh.write(rule)

    def _command(self) -> list[str]:
        return [*super()._command(), "-c", f"listen_addresses=127.0.0.1,{self.ip}"]  # the last -c wins

    def _after_ready(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(self.user), sql.Literal(DB_PASSWORD))
            )


class Backends:
    """Kafka, Redis and PostgreSQL on the host; pods use the node-address listeners, the test the loopback ones."""

    def __init__(self, workdir: Path, ip: str) -> None:
        self.ip = ip
        port, pod_port, controller = free_port(), free_port(), free_port()
        self.pod_kafka = f"{ip}:{pod_port}"
        plain, pods = f"PLAINTEXT://127.0.0.1:{port}", f"PODS://{ip}:{pod_port}"
        self.kafka = Kafka(
            workdir / "kafka",
            port,
            controller_port=controller,
            extra_config={
                "listeners": f"{plain},{pods},CONTROLLER://127.0.0.1:{controller}",
                "advertised.listeners": f"{plain},{pods}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,PODS:PLAINTEXT,CONTROLLER:PLAINTEXT",
            },
        )
        self.redis = PodRedis(workdir / "redis", ip)
        self.postgres = PodPostgres(workdir / "postgres", ip)

    def start(self) -> None:
        # Each server's start timeout runs from its own launch: wait for the fast ones while Kafka's JVM starts.
        self.kafka.launch()
        try:
            self.redis.start()
            self.postgres.start()
            self.kafka.wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in (self.postgres, self.redis, self.kafka):
            server.stop()


def image_values(image: Image) -> dict[str, str]:
    repository, tag = image.name.rsplit(":", 1)
    return {"repository": repository, "tag": tag, "pullPolicy": "Never"}


def restricted_busybox(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": BUSYBOX,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/busybox", "sleep", "3600"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }


def sample_spec(backends: Backends) -> dict[str, Any]:
    """config/samples/energysite.yaml on the host's servers, with history, the forecaster and the storage optimizer."""
    site: dict[str, Any] = yaml.safe_load((REPO / "config" / "samples" / "energysite.yaml").read_text())
    assert site["metadata"]["name"] == SITE
    spec = site["spec"]
    spec["sensors"]["count"] = SENSORS  # the sample's 500 would only load the 2 shared cores more
    spec["processor"]["replicas"] = 1
    spec["api"]["replicas"] = 1
    spec["kafka"]["bootstrapServers"] = backends.pod_kafka
    spec["redis"] = {"host": backends.ip, "port": backends.redis.port, "passwordSecretRef": {"name": "site-redis"}}
    spec["history"] = {
        "enabled": True,
        "host": backends.ip,
        "port": backends.postgres.port,
        "sslMode": "disable",
        "passwordSecretRef": {"name": "site-postgres"},
    }
    spec["storage"] = {"enabled": True}  # the storage optimizer and the rebalancer, on the sample's battery
    spec["forecaster"] = {"enabled": True}  # learns from the PostgreSQL history
    # The sample's rule waits 30 s on a critical probability; the browser test needs an alert sooner.
    spec["alerts"]["rules"].append(
        {"name": "any-warning", "sensorType": "any", "probabilityAbove": 0.3, "forSeconds": 0, "severity": "warning"}
    )
    return site


class Site:
    """The running site: cluster handles, the host's servers, the API's Service address."""

    def __init__(self, cluster: Cluster, backends: Backends) -> None:
        self.c = cluster
        self.backends = backends

    def pods(self) -> list[dict[str, Any]]:
        return self.c.items("pods", SITE_NS, f"gridwatch.io/site={SITE}")

    def api_service(self) -> dict[str, Any]:
        (svc,) = self.c.items("services", SITE_NS, f"gridwatch.io/site={SITE},app.kubernetes.io/component=api")
        return svc

    def api_url(self) -> str:
        """The API through its ClusterIP, from the host (kube-proxy's OUTPUT rules)."""
        svc = self.api_service()
        return f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"


def dump(c: Cluster) -> str:
    out = []
    for ns in (OPERATOR_NS, SITE_NS):
        out.append(c.kubectl("get", "pods,deploy,energysites", "-n", ns, "-o", "wide", check=False).stdout)
        out.append(c.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False).stdout[-4000:])
    out.append(
        c.kubectl("logs", "-n", OPERATOR_NS, "deploy/gridwatch-operator", "--tail=60", check=False).stdout[-6000:]
    )
    return "\n".join(out)


@contextmanager
def running_site(
    real_plane: ControlPlane,
    real_cluster: Cluster,
    node_images: dict[str, Image],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """Host servers, the operator chart (operator in-cluster), the sample EnergySite; all removed afterwards."""
    c = real_cluster
    backends = Backends(tmp_path_factory.mktemp("site-backends"), node_ip(real_plane))
    backends.start()
    try:
        for ns in (OPERATOR_NS, SITE_NS):
            c.namespace(ns)  # Pod Security "restricted", enforced
        wait_until(lambda: c.get("serviceaccount", "default", SITE_NS), 60, "the default ServiceAccount")
        c.kubectl("create", "secret", "generic", "site-api-token", "-n", SITE_NS, f"--from-literal=token={API_TOKEN}")
        c.kubectl(
            "create", "secret", "generic", "site-redis", "-n", SITE_NS, f"--from-literal=password={REDIS_PASSWORD}"
        )
        c.kubectl(
            "create", "secret", "generic", "site-postgres", "-n", SITE_NS, f"--from-literal=password={DB_PASSWORD}"
        )
        values = {
            "image": image_values(node_images["operator"]),
            "workloadsImage": image_values(node_images["workloads"]),
            "watchNamespaces": [SITE_NS],
            "statusIntervalSeconds": 2,
            # What the EnergySite spec does not cover: writes to the API need its token; the API's HPA, when
            # test_api_hpa.py turns spec.api.autoscaling on, scales down 15 s after the load stops, not 300 s.
            "siteValues": {
                "api": {
                    "tokenSecret": {"name": "site-api-token", "key": "token"},
                    "autoscaling": {"scaleDownStabilizationSeconds": API_HPA_SCALE_DOWN_SECONDS},
                }
            },
        }
        chart = str(REPO / "charts" / "gridwatch-operator")
        c.helm("install", "gridwatch-operator", chart, "-n", OPERATOR_NS, "--values", "-", "--wait", "--timeout",
               "240s", stdin=json.dumps(values), timeout=300)  # fmt: skip
        c.apply(sample_spec(backends), SITE_NS)
        yield Site(c, backends)
        print(f"\n[realnode] site state at teardown:\n{dump(c)}")
        # The operator's finalizer uninstalls the release; then the operator itself goes.
        c.kubectl("delete", "energysite", SITE, "-n", SITE_NS, "--wait=true", "--timeout=120s", timeout=150)
        assert c.items("deployments", SITE_NS) == [], "the site's release was not uninstalled"
        c.helm("uninstall", "gridwatch-operator", "-n", OPERATOR_NS, "--wait", "--timeout", "60s", timeout=90)
        for ns in (OPERATOR_NS, SITE_NS):
            c.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s", timeout=150)
    finally:
        backends.stop()
