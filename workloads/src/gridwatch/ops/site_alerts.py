"""A site's active alerts, asked from its API pod through the Kubernetes API server's service proxy."""

from __future__ import annotations

import json
from typing import Any

ALERTS_ROUTE = "api/v1/alerts"  # the API's list of alerts (gridwatch.api.routes.alerts), a Page of AlertRecord
QUERY = (("state", "active"), ("limit", "5"))
SHOWN = 3  # alerts listed under the count on the screen
TIMEOUT_S = 5.0


class BadAnswer(ValueError):
    """The API answered 2xx with something that is not a page of alerts."""


def proxy_path(namespace: str, service: str, port: str) -> str:
    """The API server's proxy path to the site API's alerts route (port by name or number)."""
    return f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{ALERTS_ROUTE}"


def parse_page(body: bytes) -> dict[str, Any]:
    """{"active": total active, "latest": one line for each of the first alerts} from the API's JSON page."""
    try:
        page = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadAnswer(f"not JSON ({exc.msg if isinstance(exc, json.JSONDecodeError) else exc.reason})") from None
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise BadAnswer("not a page of alerts (no items list)")
    items = [a for a in page["items"] if isinstance(a, dict)]
    total = page.get("total", len(items))
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise BadAnswer(f"not a page of alerts (total {total!r})")
    return {"active": total, "latest": [alert_line(a) for a in items[:SHOWN]]}


def alert_line(alert: dict[str, Any]) -> str:
    """'critical m00012-temp: probability 0.91 above 0.85' (the sensor, else the machine, else the rule)."""
    subject = alert.get("sensor_id") or alert.get("machine") or alert.get("rule") or "?"
    return f"{alert.get('severity', '?')} {subject}: {alert.get('message', '')}"


def http_reason(status: int, reason: str | None, body: bytes) -> str:
    """'HTTP 503 Service Unavailable: no endpoints available for service "x"' (the API server's Status message)."""
    text = f"HTTP {status} {reason or ''}".rstrip()
    detail = ""
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        detail = body.decode("utf-8", "replace").strip()
    else:
        if isinstance(answer, dict):  # a Kubernetes Status, or the API's problem+json
            detail = str(answer.get("message") or answer.get("detail") or answer.get("title") or "")
    detail = " ".join(detail.split())[:160]
    return f"{text}: {detail}" if detail else text


def fetch(core: Any, namespace: str, release: str) -> dict[str, Any]:
    """Active alerts of the release's API, or {"error": "unreachable: <why>"} when the API server or the pod cannot
    answer. Only transport and HTTP failures are reported that way: a programming error (TypeError, ...) raises."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=api"
    try:
        services = core.list_namespaced_service(namespace, label_selector=selector).items
    except ApiException as exc:
        return {"error": f"unreachable: listing Services: HTTP {exc.status} {exc.reason}"}
    except urllib3.exceptions.HTTPError as exc:
        return {"error": f"unreachable: listing Services: connection failed: {_first_line(exc)}"}
    if not services:
        return {"error": "the site has no API Service"}
    svc = services[0]
    ports = svc.spec.ports or []
    if not ports:
        return {"error": f"the API Service {svc.metadata.name} has no port"}
    port = next((p for p in ports if p.name == "http"), ports[0])
    api_client = core.api_client
    # The client's own serializer: host, the kubeconfig's bearer token (refreshed if it expires) in the headers;
    # client certificates and the CA are in the client's connection pool.
    method, url, headers, body, post = api_client.param_serialize(
        method="GET",
        resource_path=proxy_path(namespace, svc.metadata.name, port.name or str(port.port)),
        query_params=list(QUERY),
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    try:
        response = api_client.call_api(method, url, header_params=headers, body=body, post_params=post,
                                       _request_timeout=TIMEOUT_S)  # fmt: skip
        data = response.read()
    except ApiException as exc:  # TLS failures and Retry-After answers
        return {"error": f"unreachable: HTTP {exc.status} {exc.reason}" if exc.status else f"unreachable: {exc.reason}"}
    except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out, retries exhausted
        return {"error": f"unreachable: connection failed: {_first_line(exc)}"}
    if not 200 <= response.status < 300:
        return {"error": f"unreachable: {http_reason(response.status, response.reason, data or b'')}"}
    try:
        return parse_page(data)
    except BadAnswer as exc:
        return {"error": f"bad answer from the API: {exc}"}


def _first_line(exc: BaseException) -> str:
    """The cause of a urllib3 error, without the retry wrapper's URL."""
    lines = str(getattr(exc, "reason", None) or exc).splitlines()
    return lines[0][:160] if lines else ""
