"""Reaching the web UI: api.ingress and api.httpRoute render routes to the API Service (UI at /, REST, WebSocket),
the schema refuses what a controller would reject, and NOTES print the URL instead of only a port-forward."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.routing import APIWebSocketRoute
from gridwatch.api.routes import ALIASES, V1
from gridwatch.api.routes.ws import router as ws_router

from tests.unit.charts.test_render import CHARTS, HELM, needs_helm

CHART = CHARTS / "energy-site"
HOST = "north.gridwatch.example.com"
INGRESS = {
    "api": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": HOST}, {"host": "north.plant.example", "paths": [{"path": "/", "pathType": "Exact"}]}],
            "tls": [{"secretName": "north-tls", "hosts": [HOST]}],
        }
    }
}
ROUTE = {
    "api": {
        "httpRoute": {
            "enabled": True,
            "parentRefs": [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}],
            "hostnames": [HOST],
            "timeouts": {"request": "60s", "backendRequest": "30s"},
        }
    }
}


def _helm(chart: Path, values: dict[str, Any], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    args = [HELM, "template", "plant-north", str(chart), "-n", "gw", "-f", str(file), *extra]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def objects(values: dict[str, Any], tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    proc = _helm(CHART, values, tmp_path)
    assert proc.returncode == 0, proc.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(proc.stdout) if d}


def notes(values: dict[str, Any], tmp_path: Path) -> str:
    """NOTES.txt as helm renders it after an install (helm template leaves it out, so a copy of the chart
    renders it into a ConfigMap through the template's own name)."""
    copy = tmp_path / "energy-site"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  notes: {{ include (print $.Template.BasePath "/NOTES.txt") . | toJson }}\n'
    )
    proc = _helm(copy, values, tmp_path, "--show-only", "templates/zz-notes.yaml")
    assert proc.returncode == 0, proc.stderr
    text: str = yaml.safe_load(proc.stdout)["data"]["notes"]
    return text


def _api_service_port(objs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    [port] = objs[("Service", "plant-north-api")]["spec"]["ports"]
    assert isinstance(port, dict)
    return port


@needs_helm
def test_nothing_is_published_by_default(tmp_path: Path) -> None:
    kinds = {kind for kind, _ in objects({}, tmp_path)}
    assert "Ingress" not in kinds and "HTTPRoute" not in kinds


@needs_helm
def test_the_ingress_sends_every_host_root_to_the_api_service(tmp_path: Path) -> None:
    objs = objects(INGRESS, tmp_path)
    ingress = objs[("Ingress", "plant-north-api")]
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": [HOST], "secretName": "north-tls"}]
    assert [r["host"] for r in spec["rules"]] == [HOST, "north.plant.example"]
    paths = [(p["path"], p["pathType"]) for r in spec["rules"] for p in r["http"]["paths"]]
    assert paths == [("/", "Prefix"), ("/", "Exact")]  # the UI lives at /: the default path is its root
    port = _api_service_port(objs)
    for rule in spec["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {"name": "plant-north-api", "port": {"name": port["name"]}}
    assert ingress["metadata"]["labels"]["app.kubernetes.io/component"] == "api"
    # ingress-nginx closes a connection idle for proxy-read-timeout (60 s by default): the WebSocket would drop.
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600


@needs_helm
def test_an_ingress_without_hosts_answers_every_host_and_annotations_can_be_dropped(tmp_path: Path) -> None:
    values = {
        "api": {
            "ingress": {
                "enabled": True,
                "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": None, "team": "energy"},
            }
        }
    }
    ingress = objects(values, tmp_path)[("Ingress", "plant-north-api")]
    [rule] = ingress["spec"]["rules"]
    assert "host" not in rule and rule["http"]["paths"][0]["path"] == "/"
    assert "ingressClassName" not in ingress["spec"]  # the cluster's default class
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "team": "energy",
    }


def _websocket_paths() -> set[str]:
    """Where the API serves its WebSocket: under /api/v1 and at the seed's alias (routes.mount)."""
    paths = [route.path for route in ws_router.routes if isinstance(route, APIWebSocketRoute)]
    assert paths
    return {prefix + path for prefix in (V1, ALIASES["ws"]) for path in paths}


@needs_helm
def test_the_http_route_gives_the_websocket_a_rule_without_a_request_timeout(tmp_path: Path) -> None:
    objs = objects(ROUTE, tmp_path)
    route = objs[("HTTPRoute", "plant-north-api")]
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    assert spec["parentRefs"] == [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}]
    assert spec["hostnames"] == [HOST]
    ws, rest = spec["rules"]
    assert {m["path"]["value"] for m in ws["matches"]} == _websocket_paths()  # every WebSocket the API serves
    assert all(m["path"]["type"] == "Exact" for m in ws["matches"])
    assert ws["timeouts"] == {"request": "0s"}  # Gateway API: 0s disables the timeout
    assert rest["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rest["timeouts"] == {"request": "60s", "backendRequest": "30s"}
    port = _api_service_port(objs)
    for rule in (ws, rest):
        assert rule["backendRefs"] == [{"name": "plant-north-api", "port": port["port"]}]


@needs_helm
def test_the_http_route_leaves_timeouts_to_the_gateway_when_unset(tmp_path: Path) -> None:
    values = {"api": {"httpRoute": {"enabled": True, "parentRefs": [{"name": "public"}], "webSocketTimeout": ""}}}
    route = objects(values, tmp_path)[("HTTPRoute", "plant-north-api")]
    assert "hostnames" not in route["spec"]
    assert all("timeouts" not in rule for rule in route["spec"]["rules"])


@needs_helm
@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"api": {"httpRoute": {"enabled": True}}}, "/api/httpRoute/parentRefs"),
        ({"api": {"httpRoute": {"timeouts": {"request": "a minute"}}}}, "/api/httpRoute/timeouts/request"),
        ({"api": {"httpRoute": {"hostnames": ["North.Example.COM"]}}}, "/api/httpRoute/hostnames/0"),
        ({"api": {"ingress": {"hosts": [{"host": "http://north.example"}]}}}, "/api/ingress/hosts/0/host"),
        ({"api": {"ingress": {"hosts": [{"host": "a.example", "paths": [{"path": "ui"}]}]}}}, "/paths/0/path"),
        ({"api": {"ingress": {"tls": [{"secretName": "x"}]}}}, "/api/ingress/tls/0"),
        ({"api": {"ingress": {"hostname": "north.example"}}}, "/api/ingress"),
    ],
)
def test_the_schema_refuses_routes_a_controller_would_reject(
    values: dict[str, Any], where: str, tmp_path: Path
) -> None:
    proc = _helm(CHART, values, tmp_path)
    assert proc.returncode != 0
    assert where in proc.stderr, proc.stderr


@needs_helm
def test_notes_say_the_ui_is_at_root_and_print_the_ingress_urls(tmp_path: Path) -> None:
    text = notes(INGRESS, tmp_path)
    assert "The web UI is served at /" in text
    assert f"https://{HOST}/" in text  # listed under tls
    assert "http://north.plant.example/" in text
    assert "port-forward" not in text


@needs_helm
def test_notes_print_the_gateway_and_host_of_the_route(tmp_path: Path) -> None:
    text = notes(ROUTE, tmp_path)
    assert "Gateway gateway-system/public (https)" in text
    assert f"://{HOST}/" in text
    assert "get httproute plant-north-api" in text
    assert "port-forward" not in text


@needs_helm
def test_notes_fall_back_to_a_port_forward_to_the_ui(tmp_path: Path) -> None:
    text = notes({}, tmp_path)
    assert "The web UI is served at /" in text
    assert "port-forward svc/plant-north-api 8000:80" in text
    assert "open http://127.0.0.1:8000/" in text
