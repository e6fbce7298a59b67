"""The plugin's alerts line: the API's page parsed, the proxy request the real kubernetes client sends, its failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from gridwatch.ops import site_alerts
from gridwatch.ops.kubectl import SiteReport, render
from gridwatch.ops.site_alerts import BadAnswer, alert_line, fetch, http_reason, parse_page
from rich.console import Console

NS, RELEASE = "gw", "plant-north"
TOKEN = "unit-token"
PROXY = "/api/v1/namespaces/gw/services/plant-north-api:http/proxy/api/v1/alerts"


def alert(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": n, "severity": "critical", "sensor_id": f"s{n:03d}", "machine": "m1", "rule": "hot",
            "message": f"temperature {90 + n} above 85", **extra}  # fmt: skip


def page(items: list[dict[str, Any]], total: int | None = None) -> bytes:
    body = {"items": items, "total": len(items) if total is None else total, "limit": 5, "offset": 0}
    return json.dumps(body).encode()


def test_page_gives_the_total_and_the_first_three() -> None:
    found = parse_page(page([alert(n) for n in range(1, 6)], total=12))
    assert found["active"] == 12
    assert found["latest"] == [f"critical s{n:03d}: temperature {90 + n} above 85" for n in (1, 2, 3)]


def test_no_active_alerts() -> None:
    assert parse_page(page([])) == {"active": 0, "latest": []}


def test_line_names_the_machine_or_rule_when_there_is_no_sensor() -> None:
    assert alert_line(alert(1, sensor_id=None)) == "critical m1: temperature 91 above 85"
    assert alert_line({"severity": "warning", "rule": "silent", "message": "x"}) == "warning silent: x"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>UI</html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "no items list"),
        (b'{"detail": "x"}', "no items list"),
        (b'{"items": [], "total": "3"}', "total '3'"),
        (b'{"items": [], "total": -1}', "total -1"),
    ],
)
def test_anything_but_a_page_is_a_bad_answer(body: bytes, why: str) -> None:
    with pytest.raises(BadAnswer, match=why):
        parse_page(body)


def test_http_reason_quotes_the_api_servers_status_message() -> None:
    status = {"kind": "Status", "status": "Failure", "code": 503,
              "message": 'no endpoints available for service "plant-north-api"'}  # fmt: skip
    assert http_reason(503, "Service Unavailable", json.dumps(status).encode()) == (
        'HTTP 503 Service Unavailable: no endpoints available for service "plant-north-api"'
    )
    assert http_reason(401, "Unauthorized", b'{"title": "Unauthorized", "detail": "token required"}') == (
        "HTTP 401 Unauthorized: token required"
    )
    assert http_reason(502, "Bad Gateway", b"dial tcp 10.0.0.9:8000:\n connect: refused") == (
        "HTTP 502 Bad Gateway: dial tcp 10.0.0.9:8000: connect: refused"
    )
    assert http_reason(500, None, b"") == "HTTP 500"


class FakeApiServer(BaseHTTPRequestHandler):
    """Answers the Service list and the proxied alerts route like kube-apiserver; records each request."""

    seen: list[tuple[str, dict[str, list[str]], str | None]] = []
    proxied: tuple[int, bytes] | None = (200, b"")
    services: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        type(self).seen.append((url.path, parse_qs(url.query), self.headers.get("Authorization")))
        if url.path == f"/api/v1/namespaces/{NS}/services":
            code, body = 200, json.dumps({"kind": "ServiceList", "apiVersion": "v1", "items": self.services}).encode()
        elif url.path == PROXY:
            if self.proxied is None:
                self.close_connection = True
                return
            code, body = self.proxied
        else:
            code, body = 404, b'{"kind": "Status", "message": "the server could not find the requested resource"}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def api_service(ports: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": "api"}
    return {"metadata": {"name": f"{RELEASE}-api", "namespace": NS, "labels": labels}, "spec": {"ports": ports}}


@pytest.fixture
def server() -> Iterator[str]:
    FakeApiServer.seen = []
    FakeApiServer.services = [api_service([{"name": "http", "port": 80, "targetPort": "http"}])]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def core_for(host: str) -> Any:
    """The real kubernetes client, configured as load_kube_config does for a token kubeconfig."""
    from kubernetes import client

    config = client.Configuration(host=host)
    config.api_key = {"BearerToken": TOKEN}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return client.CoreV1Api(client.ApiClient(config))


def test_fetch_asks_the_service_proxy_with_the_clients_token(server: str) -> None:
    FakeApiServer.proxied = (200, page([alert(1), alert(2)], total=2))
    assert fetch(core_for(server), NS, RELEASE) == {
        "active": 2,
        "latest": ["critical s001: temperature 91 above 85", "critical s002: temperature 92 above 85"],
    }
    listing, proxied = FakeApiServer.seen
    assert listing[1]["labelSelector"] == [f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=api"]
    assert proxied == (PROXY, {"state": ["active"], "limit": ["5"]}, f"Bearer {TOKEN}")


def test_fetch_uses_the_port_named_http(server: str) -> None:
    FakeApiServer.services = [api_service([{"name": "metrics", "port": 9100}, {"name": "http", "port": 80}])]
    FakeApiServer.proxied = (200, page([]))
    assert fetch(core_for(server), NS, RELEASE) == {"active": 0, "latest": []}
    assert FakeApiServer.seen[-1][0] == PROXY


def test_an_http_error_is_unreachable_with_its_status(server: str) -> None:
    status = {"kind": "Status", "code": 503, "message": 'no endpoints available for service "plant-north-api"'}
    FakeApiServer.proxied = (503, json.dumps(status).encode())
    assert fetch(core_for(server), NS, RELEASE) == {
        "error": 'unreachable: HTTP 503 Service Unavailable: no endpoints available for service "plant-north-api"'
    }


def test_a_non_page_answer_is_a_bad_answer(server: str) -> None:
    FakeApiServer.proxied = (200, b"<!doctype html><html></html>")
    assert fetch(core_for(server), NS, RELEASE)["error"].startswith("bad answer from the API: not JSON")


def test_no_api_service(server: str) -> None:
    FakeApiServer.services = []
    assert fetch(core_for(server), NS, RELEASE) == {"error": "the site has no API Service"}


def test_a_refused_connection_is_unreachable() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    found = fetch(core_for(f"http://127.0.0.1:{port}"), NS, RELEASE)["error"]
    assert found.startswith("unreachable: listing Services: connection failed: "), found
    assert "Connection refused" in found and "Max retries" not in found, found


def test_a_connection_dropped_by_the_proxy_is_unreachable(server: str) -> None:
    FakeApiServer.proxied = None  # the API server closes the connection without answering
    found = fetch(core_for(server), NS, RELEASE)["error"]
    assert found.startswith("unreachable: connection failed: "), found
    assert "closed connection without response" in found, found


def test_a_programming_error_is_not_reported_as_unreachable(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    core = core_for(server)

    def old_signature(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("call_api() got an unexpected keyword argument 'query_params'")

    monkeypatch.setattr(core.api_client, "call_api", old_signature)
    with pytest.raises(TypeError, match="query_params"):
        fetch(core, NS, RELEASE)


def report(alerts: dict[str, Any]) -> SiteReport:
    return SiteReport(name=RELEASE, namespace=NS, site_id=f"{NS}.{RELEASE}", conditions=[], components=[],
                      processors="1/1", consumer_lag={}, data_flow={}, sensors_reporting=None, scaling={}, helm={},
                      drift={}, events=[], alerts=alerts)  # fmt: skip


def screen(alerts: dict[str, Any]) -> str:
    console = Console(width=160, record=True)
    console.print(render(report(alerts)))
    return console.export_text()


def test_the_screen_shows_the_count_and_the_latest() -> None:
    text = screen(parse_page(page([alert(1), alert(2)], total=7)))
    assert "Alerts      7 active" in text
    assert "critical s001: temperature 91 above 85" in text and "critical s002" in text


def test_the_screen_says_why_alerts_are_unknown() -> None:
    text = screen({"error": "unreachable: HTTP 503 Service Unavailable: no endpoints"})
    assert "Alerts      unknown (unreachable: HTTP 503 Service Unavailable: no endpoints)" in text


def test_route_matches_the_apis_router() -> None:
    from gridwatch.api.routes import V1
    from gridwatch.api.routes.alerts import router

    assert f"{V1}{router.prefix}" == f"/{site_alerts.ALERTS_ROUTE}"
    (listing,) = [r for r in router.routes if getattr(r, "path", None) == router.prefix]
    params = {p.name for p in listing.dependant.query_params}  # type: ignore[attr-defined]
    assert {name for name, _ in site_alerts.QUERY} <= params
