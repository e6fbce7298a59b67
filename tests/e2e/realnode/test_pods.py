"""Real containers on the real node: a Deployment behind a Service, found by name through cluster DNS."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.e2e.cluster import Cluster, wait_until

NS = "gw-real"
IMAGE = "docker.io/library/busybox:gridwatch"
RESTRICTED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}
RESTRICTED_POD: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pod_spec(command: str, **extra: Any) -> dict[str, Any]:
    return {
        "securityContext": RESTRICTED_POD,
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "main",
                "image": IMAGE,
                "imagePullPolicy": "Never",
                "command": ["/bin/busybox", "sh", "-c", command],
                "securityContext": RESTRICTED_CONTAINER,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                **extra,
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def _exec(c: Cluster, pod: str, script: str) -> str:
    return c.kubectl("exec", "-n", NS, pod, "--", "/bin/busybox", "sh", "-c", script, timeout=60).stdout


def test_pod_service_dns_and_api_server(real_cluster: Cluster) -> None:
    c = real_cluster
    c.namespace(NS)
    wait_until(lambda: c.get("serviceaccount", "default", NS), 60, "the default ServiceAccount")
    web = _pod_spec(
        "/bin/busybox mkdir -p /tmp/www && /bin/busybox hostname > /tmp/www/index.html"
        " && exec /bin/busybox httpd -f -p 8080 -h /tmp/www",
        ports=[{"containerPort": 8080}],
        readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
    )
    c.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": web},
            },
        }
    )
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": NS},
            "spec": _pod_spec("echo client-started-as-$(/bin/busybox id -u) && exec /bin/busybox sleep 3600"),
        }
    )
    c.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=120s", timeout=150)
    c.kubectl("wait", "--for=condition=Ready", "pod/client", "-n", NS, "--timeout=120s", timeout=150)

    # Every pod runs on the real node: the kwok node's NoSchedule taint keeps them off it.
    pods = c.items("pods", NS)
    real = json.loads(c.kubectl("get", "nodes", "-l", "type=real", "-o", "json").stdout)["items"]
    assert len(real) == 1
    node = real[0]["metadata"]["name"]
    assert {p["spec"]["nodeName"] for p in pods} == {node}
    web_pods = {p["metadata"]["name"] for p in pods if (p["metadata"].get("labels") or {}).get("app") == "web"}
    assert len(web_pods) == 2

    # Cluster DNS: the Service's name resolves to its ClusterIP.
    cluster_ip = c.get("service", "web", NS)["spec"]["clusterIP"]  # type: ignore[index]
    lookup = _exec(c, "client", f"/bin/busybox nslookup web.{NS}.svc.cluster.local")
    assert cluster_ip in lookup, lookup

    # The Service balances over both replicas, reached by its short name (search path from the kubelet).
    seen: set[str] = set()

    def both_backends() -> bool:
        out = _exec(c, "client", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 web 80")
        body = out.replace("\r\n", "\n").split("\n\n", 1)[-1].strip()
        assert body in web_pods, out
        seen.add(body)
        return seen == web_pods

    wait_until(both_backends, 60, "answers from both web pods through the Service", interval=0.1)

    # The API server through the `kubernetes` Service (advertised address, lease endpoint reconciler):
    # Go's TLS server answers a plain HTTP request with a 400 that says so.
    out = _exec(
        c,
        "client",
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 kubernetes.default.svc.cluster.local 443",
    )
    assert "HTTP request to an HTTPS server" in out, out

    # Logs come back through the kubelet.
    logs = c.kubectl("logs", "-n", NS, "client").stdout
    assert "client-started-as-65534" in logs, logs

    # kwok's fake node is still there for scale tests that tolerate its taint.
    toleration = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
    fake = _pod_spec("true")
    fake.update(nodeSelector={"type": "kwok"}, tolerations=[toleration])
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-kwok", "namespace": NS}, "spec": fake})
    c.kubectl("wait", "--for=condition=Ready", "pod/on-kwok", "-n", NS, "--timeout=60s", timeout=90)
    on_kwok = c.get("pod", "on-kwok", NS)
    assert on_kwok is not None and re.match(r"kwok-node-\d+", on_kwok["spec"]["nodeName"])
