"""Kubernetes API calls the operator makes outside kopf (Deployments of a release, EnergySite status)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client import ApiException

_lock = threading.Lock()
_clients: dict[str, client.ApiClient] = {}


def api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, the kubeconfig otherwise (loaded once)."""
    with _lock:
        if "default" not in _clients:
            if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(
                "/var/run/secrets/kubernetes.io/serviceaccount/token"
            ):
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            else:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            _clients["default"] = client.ApiClient()
        return _clients["default"]


def read_deployment(namespace: str, name: str) -> dict[str, Any] | None:
    """The live Deployment as a plain dict, or None when it does not exist."""
    apps = client.AppsV1Api(api_client())
    try:
        obj = apps.read_namespaced_deployment(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data: dict[str, Any] = api_client().sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
    return data


def create_deployment(namespace: str, manifest: Mapping[str, Any], release: str) -> bool:
    """Recreate a release Deployment from its rendered manifest, with helm's ownership marks so the
    next `helm upgrade` adopts it. False when it exists already."""
    body = dict(manifest)
    metadata = dict(body.get("metadata") or {})
    metadata["namespace"] = namespace
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        "meta.helm.sh/release-name": release,
        "meta.helm.sh/release-namespace": namespace,
    }
    metadata["labels"] = {**(metadata.get("labels") or {}), "app.kubernetes.io/managed-by": "Helm"}
    body["metadata"] = metadata
    try:
        client.AppsV1Api(api_client()).create_namespaced_deployment(namespace, body)  # type: ignore[arg-type]
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True


def scale_deployment(namespace: str, name: str, replicas: int) -> None:
    """Set spec.replicas through the scale subresource."""
    client.AppsV1Api(api_client()).patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


def read_secret_data(namespace: str, name: str) -> dict[str, str]:
    """A Secret's data (base64 values) in the site's namespace, for the operator's own Kafka clients; KeyError when it
    does not exist. `get` only (RBAC: the -sites ClusterRole), read when needed, never cached or logged."""
    core = client.CoreV1Api(api_client())
    try:
        obj = core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise KeyError(f"{namespace}/{name}") from None
        raise
    return {str(k): str(v) for k, v in (obj.data or {}).items()}


def keda_available() -> bool:
    """The API server serves KEDA's ScaledObjects (keda.sh/v1alpha1 scaledobjects): a discovery read, which every
    authenticated client may make (no RBAC rule). False on 404; other API errors are raised."""
    try:
        found = client.CustomObjectsApi(api_client()).get_api_resources("keda.sh", "v1alpha1")
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return any(r.name == "scaledobjects" for r in (found.resources or []))
