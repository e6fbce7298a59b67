"""The site chart's Ingress and HTTPRoute on the real control plane: kube-apiserver validates the Ingress, the
Gateway API's own CRDs (sigs.k8s.io/gateway-api, from the Go module proxy like the rest of tests/infra/k8s) validate
the HTTPRoute with their schema and CEL rules, and the NOTES of a real install print the UI's URLs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster import REPO, Cluster, condition, wait_until

GATEWAY_API = "sigs.k8s.io/gateway-api@v1.6.3"
NAMESPACE = "gw-ui"
UI_VALUES = REPO / "charts" / "energy-site" / "ci" / "ui-values.yaml"
HOST = "north.gridwatch.example.com"


def gateway_api_crds() -> Path:
    """The standard-channel CRDs of the pinned Gateway API release, downloaded once into the Go module cache."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    assert Path(go).exists(), "Go is needed to fetch the Gateway API CRDs (as tests/infra/k8s/build.sh does)"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")}
    out = subprocess.run(
        [go, "mod", "download", "-json", GATEWAY_API], capture_output=True, text=True, check=True, env=env, timeout=300
    ).stdout
    return Path(json.loads(out)["Dir"]) / "config" / "crd" / "standard"


@pytest.fixture(scope="module")
def gateway_api(cluster: Cluster) -> Cluster:
    crds = gateway_api_crds()
    for kind in ("gateways", "httproutes"):
        path = crds / f"gateway.networking.k8s.io_{kind}.yaml"
        cluster.kubectl("apply", "--server-side", "-f", "-", stdin=path.read_text())
    for kind in ("gateways", "httproutes"):
        crd = f"{kind}.gateway.networking.k8s.io"

        def established(crd: str = crd) -> bool:
            return condition(cluster.get("crd", crd) or {}, "Established").get("status") == "True"

        wait_until(established, 60, f"{crd} established")
    cluster.namespace(NAMESPACE)
    return cluster


def test_the_rendered_ingress_and_route_are_accepted_by_the_api_server(gateway_api: Cluster) -> None:
    rendered = gateway_api.helm(
        "template", "plant-north", str(REPO / "charts" / "energy-site"), "-n", NAMESPACE, "-f", str(UI_VALUES),
        "--show-only", "templates/ingress.yaml", "--show-only", "templates/httproute.yaml",
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert sorted(d["kind"] for d in docs) == ["HTTPRoute", "Ingress"]
    for doc in docs:
        proc = gateway_api.kubectl(
            "apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(doc), check=False
        )
        assert proc.returncode == 0, f"{doc['kind']}: {proc.stderr}"


def test_the_gateway_api_refuses_what_the_chart_leaves_to_it(gateway_api: Cluster) -> None:
    """The check above can fail: the CRD's CEL rule (backendRequest within request) is live on this server."""
    rendered = gateway_api.helm(
        "template", "plant-north", str(REPO / "charts" / "energy-site"), "-n", NAMESPACE, "-f", str(UI_VALUES),
        "--set", "api.httpRoute.timeouts.backendRequest=5m", "--show-only", "templates/httproute.yaml",
    ).stdout  # fmt: skip
    proc = gateway_api.kubectl("apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", stdin=rendered, check=False)
    assert proc.returncode != 0
    assert "backendRequest timeout cannot be longer than request timeout" in proc.stderr


def test_an_install_creates_both_and_its_notes_print_the_ui_urls(gateway_api: Cluster) -> None:
    chart = str(REPO / "charts" / "energy-site")
    proc = gateway_api.helm("install", "plant-north", chart, "-n", NAMESPACE, "-f", str(UI_VALUES))
    try:
        assert f"https://{HOST}/" in proc.stdout  # NOTES: the Ingress host is listed under tls
        assert "Gateway gateway-system/public (https)" in proc.stdout
        assert "port-forward" not in proc.stdout
        ingress = gateway_api.get("ingress", "plant-north-api", NAMESPACE)
        route = gateway_api.get("httproute", "plant-north-api", NAMESPACE)
        assert ingress is not None and route is not None
        assert ingress["spec"]["rules"][0]["host"] == HOST
        ws, rest = route["spec"]["rules"]
        assert ws["timeouts"] == {"request": "0s"} and rest["timeouts"] == {"request": "60s"}
        assert rest["backendRefs"][0]["name"] == "plant-north-api"
    finally:
        gateway_api.helm("uninstall", "plant-north", "-n", NAMESPACE, "--wait", "--timeout", "60s")
