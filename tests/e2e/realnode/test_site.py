"""The whole sample site on real pods: the operator runs in-cluster from its image and brings the site up.

Kafka, Redis and PostgreSQL run on the host (the product's own launchers, gridwatch.local), listening also on the
node's address, which pods reach directly (docs/control-plane.md, "The whole site on real pods"). The site is
conftest's fixture `site` (tests/e2e/realnode/sample_site.py), which test_api_hpa.py shares.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.cluster import Cluster, condition, wait_until
from tests.e2e.realnode.sample_site import (
    API_TOKEN,
    COMPONENTS,
    OPERATOR_NS,
    REPORTING,
    SITE,
    SITE_NS,
    Site,
    dump,
    restricted_busybox,
)
from tests.e2e.ui.stack import CHROMIUM, FRONTEND, ensure_node_modules


def _exec(c: Cluster, pod: str, script: str) -> str:
    return c.kubectl("exec", "-n", SITE_NS, pod, "--", "/bin/busybox", "sh", "-c", script, timeout=60).stdout


def _http_body(response: str) -> str:
    return response.replace("\r\n", "\n").split("\n\n", 1)[-1]


def test_operator_in_cluster_brings_up_the_sample_site(site: Site) -> None:
    c = site.c
    t0 = time.monotonic()
    (node,) = json.loads(c.kubectl("get", "nodes", "-l", "type=real", "-o", "json").stdout)["items"]
    real_node = node["metadata"]["name"]

    # The operator: from the image built here, on the real node, as its own least-privilege ServiceAccount.
    (op,) = c.items("pods", OPERATOR_NS, "app.kubernetes.io/name=gridwatch-operator")
    assert op["spec"]["nodeName"] == real_node
    assert op["spec"]["serviceAccountName"] == "gridwatch-operator"
    assert op["spec"]["containers"][0]["image"] == "ghcr.io/gridwatch/gridwatch-operator:dev"
    assert all(s["ready"] for s in op["status"]["containerStatuses"])
    operator_sa = "system:serviceaccount:gridwatch-system:gridwatch-operator"

    def can(verb: str, resource: str, ns: str) -> str:
        return c.kubectl("auth", "can-i", verb, resource, "-n", ns, "--as", operator_sa, check=False).stdout.strip()

    assert can("create", "deployments", SITE_NS) == "yes"
    assert can("create", "deployments", "default") == "no"  # RoleBindings only in the watched namespace
    # Secrets by name only, for the Kafka TLS/SASL references of a site (docs/security.md); helm's driver is configmaps
    assert can("get", "secrets", SITE_NS) == "yes"
    assert can("list", "secrets", SITE_NS) == "no" and can("watch", "secrets", SITE_NS) == "no"

    def ready() -> dict[str, Any] | None:
        obj = c.site(SITE, SITE_NS)
        return obj if condition(obj, "Ready").get("status") == "True" else None

    try:
        obj = wait_until(ready, 480, f"{SITE} Ready (every component's pods ready)", interval=2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump(c)}") from exc
    print(f"\n[realnode] {SITE} Ready on real pods {time.monotonic() - t0:.0f}s after the operator was up")
    assert obj["status"]["helm"]["revision"] >= 1

    # Every component runs from the workloads image on the real node, and its probes pass.
    # The chart's pre-install hook ran `gridwatch migrate` as a Job on the node and completed (then Helm removed it).
    events = json.loads(c.kubectl("get", "events", "-n", SITE_NS, "-o", "json").stdout)["items"]
    assert any(e["involvedObject"]["name"] == f"{SITE}-migrate" and e["reason"] == "Completed" for e in events), (
        "the migrate hook Job did not complete"
    )
    pods = [p for p in site.pods() if p["metadata"]["labels"]["app.kubernetes.io/component"] != "migrate"]
    assert {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods} == COMPONENTS
    for pod in pods:
        name = pod["metadata"]["name"]
        assert pod["spec"]["nodeName"] == real_node, name
        assert pod["status"]["phase"] == "Running", name
        (container,) = pod["spec"]["containers"]
        assert container["image"] == "ghcr.io/gridwatch/gridwatch:dev", name
        assert container["readinessProbe"] and container["livenessProbe"] and container["startupProbe"], name
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] and status["started"], name
        assert status["imageID"], name  # containerd ran it from the imported image

    # Pod Security "restricted" admitted every pod: nothing refused, the namespaces enforce it.
    for ns in (OPERATOR_NS, SITE_NS):
        labels = c.get("namespace", ns)["metadata"]["labels"]  # type: ignore[index]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        events = json.loads(c.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
        refused = [e["message"] for e in events if e.get("reason") == "FailedCreate" or "PodSecurity" in e["message"]]
        assert refused == [], refused
    for deploy in c.items("deployments", SITE_NS):
        assert deploy["status"].get("readyReplicas") == deploy["spec"]["replicas"], deploy["metadata"]["name"]


def test_readings_flow_into_redis_and_postgres(site: Site) -> None:
    wait_until(lambda: condition(site.c.site(SITE, SITE_NS), "Ready").get("status") == "True", 300, "Ready", 2)
    # Shared state is named by the site's identity, <namespace>.<name>, which the operator records in its status.
    ident = site.c.site(SITE, SITE_NS)["status"]["siteId"]
    assert ident == f"{SITE_NS}.{SITE}"
    r = site.backends.redis.client()
    key = f"gw:{ident}:sensors"
    wait_until(lambda: r.hlen(key) == REPORTING, 120, f"all {REPORTING} sensors' live state in Redis")

    def history() -> tuple[int, int]:
        with psycopg.connect(site.backends.postgres.dsn) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT sensor_id), coalesce(sum(readings), 0) FROM gw_history_minute WHERE site = %s",
                (ident,),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    sensors, readings = wait_until(
        lambda: (h := history())[0] == REPORTING and h, 120, f"minute rollups of all {REPORTING} sensors in PostgreSQL"
    )
    later = wait_until(lambda: (h := history())[1] > readings and h, 60, "more readings in PostgreSQL")
    print(f"\n[realnode] PostgreSQL: {sensors} sensors, {readings} then {later[1]} readings rolled up")

    # The operator sees the flow too: reporting sensors from the producers' heartbeats, lag from Kafka.
    status = wait_until(lambda: (s := site.c.site(SITE, SITE_NS)["status"]).get("sensorsReporting") and s, 60,
                        "status.sensorsReporting")  # fmt: skip
    assert status["sensorsReporting"] == REPORTING
    assert isinstance(status.get("consumerLag"), int)


def test_api_answers_through_its_service(site: Site) -> None:
    c = site.c
    wait_until(lambda: condition(c.site(SITE, SITE_NS), "Ready").get("status") == "True", 300, "Ready", 2)
    svc = site.api_service()
    host = f"{svc['metadata']['name']}.{SITE_NS}.svc.cluster.local"
    port = svc["spec"]["ports"][0]["port"]

    # From a pod, by the Service's DNS name (CoreDNS), in the same restricted namespace.
    c.apply(restricted_busybox("client"), SITE_NS)
    c.kubectl("wait", "--for=condition=Ready", "pod/client", "-n", SITE_NS, "--timeout=90s", timeout=120)

    def get(path: str) -> str:
        # busybox nc stops at the end of its input, so the input stays open until the API has answered and closed.
        request = f"GET {path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n"
        script = f"(printf '{request}'; /bin/busybox sleep 10) | /bin/busybox nc -w 10 {host} {port}"
        response = _exec(c, "client", script)
        assert response.startswith("HTTP/1.1 200"), response
        return response

    wait_until(lambda: get("/health"), 60, "the API's /health through its Service from a pod")
    stats = json.loads(_http_body(get("/api/dashboard/stats")))
    assert int(stats["total_sensors"]) == REPORTING, stats
    assert "<html" in get("/").lower()  # the UI is in the image and served by the API

    # From the host, through the ClusterIP (kube-proxy).
    url = site.api_url()
    sensors = httpx.get(f"{url}/api/v1/sensors", params={"limit": 5}, timeout=10).json()
    assert len(sensors["items"]) == 5
    # The storage optimizer pod planned the sample's battery; the API serves its plan.
    plan = wait_until(lambda: (p := httpx.get(f"{url}/api/v1/storage/plan", timeout=10)).status_code == 200 and p, 120,
                      "the storage optimizer's plan").json()  # fmt: skip
    assert (plan["site"], plan["status"]) == (f"{SITE_NS}.{SITE}", "optimal"), plan  # the site's identity
    # The API reads its own EnergySite (its Role in the chart, its ServiceAccount's token in the pod).
    site_view = httpx.get(f"{url}/api/v1/site", timeout=10).json()
    assert (site_view["mode"], site_view["site"], site_view["ready"]) == ("kubernetes", SITE, True), site_view
    c.kubectl("delete", "pod", "client", "-n", SITE_NS, "--wait=false")


# The browser tests that do not stop processes (the local stack's control port has no equivalent here) and do not
# expect local mode: the dashboard moving, sensor filters and sorting, an alert acknowledged with the token, and axe
# on the Site view, which on Kubernetes shows the operator's status read by the API pod.
UI_TESTS = (
    "dashboard loads|filter by status|sorting by failure|acknowledge an active alert|light theme Site has no serious"
)


def test_ui_in_browser_against_real_pods(site: Site) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make setup does it)")
    ensure_node_modules()
    wait_until(lambda: condition(site.c.site(SITE, SITE_NS), "Ready").get("status") == "True", 300, "Ready", 2)
    env = {
        **os.environ,
        "GRIDWATCH_UI_BASE_URL": site.api_url(),  # the UI as the API pod serves it, through the Service
        "GRIDWATCH_E2E_TOKEN": API_TOKEN,
        "GRIDWATCH_CHROMIUM": CHROMIUM,
    }
    result = subprocess.run(
        ["npx", "--no-install", "playwright", "test", "--project=ui", "--grep", UI_TESTS],
        cwd=FRONTEND, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    report = f"{result.stdout}\n{result.stderr}"
    print(report)
    assert result.returncode == 0, f"playwright failed:\n{report[-12000:]}\n{dump(site.c)}"
    assert " 5 passed" in result.stdout, result.stdout
    assert " failed" not in result.stdout


def test_kubectl_plugin_shows_the_real_site(site: Site) -> None:
    """`kubectl gridwatch status` on real pods (issue 17 section 4): every component's live replicas, the lag, data
    flowing, the Helm revision, and the active alerts answered by the API pod through the API server's service proxy
    (on kwok pods that line can only say it is unreachable, tests/e2e/test_kubectl_plugin.py)."""
    import re
    import sys

    from gridwatch.ops.site_alerts import alert_line

    c = site.c
    env = c.env()
    env["PATH"] = f"{env['PATH']}:{Path(sys.executable).parent}"  # where `kubectl-gridwatch` is installed
    env["KUBECONFIG"] = str(c.kubeconfig)
    kubectl = str(c.plane.bin_dir / "kubectl")

    def plugin(*args: str) -> str:
        out = subprocess.run([kubectl, "gridwatch", "status", SITE, "-n", SITE_NS, *args],
                             capture_output=True, text=True, env=env, timeout=90, check=False)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout

    def report() -> dict[str, Any]:
        found: dict[str, Any] = json.loads(plugin("-o", "json"))
        flowing = {x["type"]: x["status"] for x in found["conditions"]}.get("DataFlowing") == "True"
        ready = all(comp["ready"] == comp["desired"] for comp in found["components"])
        # The sample's any-warning rule (forSeconds 0) raises alerts within seconds of the first readings.
        lag = {"consumerLag", "consumerLagReadings"} <= set(found["consumer_lag"])
        if flowing and ready and lag and found["alerts"].get("active", 0) >= 1:
            return found
        raise AssertionError(f"DataFlowing {flowing}, lag {found['consumer_lag']}, components {found['components']},"
                             f" alerts {found['alerts']}")  # fmt: skip

    try:
        found = wait_until(report, 180, "the plugin's report: all ready, data flowing, the API pod's alerts", 3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump(c)}") from exc
    status = c.site(SITE, SITE_NS)["status"]
    assert found["site_id"] == f"{SITE_NS}.{SITE}" == status["siteId"]

    # Components and replicas: the release's Deployments, read live.
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d
                   for d in c.items("deployments", SITE_NS, f"app.kubernetes.io/instance={SITE}")}  # fmt: skip
    assert set(deployments) == COMPONENTS
    comps = {comp["component"]: comp for comp in found["components"]}
    assert set(comps) == COMPONENTS
    for name, comp in comps.items():
        assert comp["name"] == deployments[name]["metadata"]["name"] == f"{SITE}-{name}", comp
        assert comp["desired"] == deployments[name]["spec"]["replicas"] >= 1, comp
        assert comp["ready"] == comp["desired"] and comp["image"] == "ghcr.io/gridwatch/gridwatch:dev", comp
    assert found["processors"] == f"{comps['processor']['ready']}/{comps['processor']['desired']}"

    # Lag, data flow and the Helm release from the operator's status.
    assert isinstance(found["consumer_lag"]["consumerLag"], int) and found["consumer_lag"]["consumerLag"] >= 0
    assert isinstance(found["consumer_lag"]["consumerLagReadings"], int)
    assert found["sensors_reporting"] == REPORTING
    assert isinstance(found["data_flow"]["lastMessageTime"], int | float) and not found["data_flow"].get("error")
    assert found["helm"]["release"] == SITE and found["helm"]["revision"] >= 1
    assert found["helm"]["revision"] <= status["helm"]["revision"]  # an upgrade may land between the two reads

    # The alerts line came from the API pod: its count and lines are alerts the API itself lists.
    alerts = found["alerts"]
    assert "error" not in alerts and alerts["active"] >= 1, alerts
    assert len(alerts["latest"]) == min(3, alerts["active"]), alerts
    listed = httpx.get(f"{site.api_url()}/api/v1/alerts", params={"limit": 1000}, timeout=10).json()["items"]
    known = {alert_line(a).split(":")[0] for a in listed}  # any state: one may clear between the two reads
    assert {line.split(":")[0] for line in alerts["latest"]} <= known, (alerts, known)

    text = plugin()
    for expected in (f"EnergySite {SITE}", "Ready=True", "DataFlowing=True", f"{SITE}-processor", "Recent events",
                     f"release {SITE} revision", f"sensors reporting {REPORTING}"):  # fmt: skip
        assert expected in text, (expected, text)
    assert re.search(r"\bAlerts +\d+ active\b", text) and "unknown (unreachable" not in text, text


def test_forecasts_flow_on_real_pods(site: Site) -> None:
    """The forecaster pod forecasts from the site's PostgreSQL history and the API pod serves it (issue 15, "forecasts
    flow on Kubernetes"): two weeks of rollups are seeded under the site's identity, then the forecaster restarted."""
    from tests.utils.model_history import seed

    c = site.c
    wait_until(lambda: condition(c.site(SITE, SITE_NS), "Ready").get("status") == "True", 300, "Ready", 2)
    rows = seed(site.backends.postgres.dsn, f"{SITE_NS}.{SITE}", time.time(), days=14, machines=3)
    assert rows > 0
    c.kubectl("delete", "pod", "-n", SITE_NS, "-l", "app.kubernetes.io/component=forecaster", "--wait=true")
    url = f"{site.api_url()}/api/v1/forecast"

    def served() -> dict[str, Any] | None:
        answer = httpx.get(url, params={"scope": "site"}, timeout=10)
        return answer.json() if answer.status_code == 200 else None

    forecast = wait_until(served, 240, "the site forecast served by the API", 3)
    assert forecast["site"] == f"{SITE_NS}.{SITE}" and forecast["scope"] == "site"
    assert forecast["model"] and forecast["model_version"]
    assert forecast["step_s"] == 900 and len(forecast["points"]) == 120 // 15  # the sample's forecastHorizonMinutes
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in forecast["points"]), forecast["points"]
    machine = httpx.get(url, params={"scope": "machine", "id": "m00001"}, timeout=10)
    assert machine.status_code == 200 and len(machine.json()["points"]) == 8, machine.text
