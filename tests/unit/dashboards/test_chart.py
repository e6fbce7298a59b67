"""The chart's observability objects: dashboard ConfigMaps, the ServiceMonitor gate and scrape annotations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.unit.charts.test_prometheus_rules import CHART, render_chart

DASHBOARDS = CHART / "dashboards"
MONITORING = ("--api-versions", "monitoring.coreos.com/v1")


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_annotations(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["metadata"].get("annotations", {})
        for d in kinds(docs, "Deployment")
    }


def test_dashboards_ship_as_a_configmap_labelled_for_the_grafana_sidecar() -> None:
    docs = render_chart("--set", "dashboards.enabled=true", "--set", "dashboards.annotations.grafana_folder=Gridwatch")
    (configmap,) = [d for d in kinds(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboards")]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Gridwatch"}
    committed = {f"gridwatch-{p.name}": p.read_text() for p in sorted(DASHBOARDS.glob("*.json"))}
    assert set(configmap["data"]) == set(committed)
    for key, text in configmap["data"].items():
        shipped = json.loads(text)
        assert shipped["timezone"] == "UTC", key  # the chart's default site time zone
        assert {**shipped, "timezone": "utc"} == json.loads(committed[key]), key


def test_dashboards_show_the_sites_time_zone() -> None:
    docs = render_chart("--set", "timezone=Europe/Berlin")
    (configmap,) = [d for d in kinds(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboards")]
    assert {json.loads(text)["timezone"] for text in configmap["data"].values()} == {"Europe/Berlin"}


def test_no_dashboard_configmap_when_disabled() -> None:
    docs = render_chart("--set", "dashboards.enabled=false")
    assert not [d for d in kinds(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboards")]


def test_without_the_prometheus_operator_pods_carry_scrape_annotations() -> None:
    docs = render_chart("--set", "metrics.serviceMonitor.enabled=true")
    assert not kinds(docs, "ServiceMonitor")
    annotations = pod_annotations(docs)
    assert set(annotations) == {"simulator", "processor", "api"}
    for component, found in annotations.items():
        assert found["prometheus.io/scrape"] == "true", component
        assert found["prometheus.io/path"] == "/metrics", component
    assert annotations["api"]["prometheus.io/port"] == "8000"
    assert annotations["processor"]["prometheus.io/port"] == "9100"


def test_with_the_prometheus_operator_a_servicemonitor_replaces_the_annotations() -> None:
    docs = render_chart(
        *MONITORING,
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.additionalLabels.release=kube-prometheus-stack",
        "--set",
        "metrics.serviceMonitor.interval=15s",
    )
    (monitor,) = kinds(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert spec["jobLabel"] == "app.kubernetes.io/component"
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "energy-site",
        "app.kubernetes.io/instance": "plant-a",
    }
    assert [(e["port"], e["path"], e["interval"], e["honorLabels"]) for e in spec["endpoints"]] == [
        ("metrics", "/metrics", "15s", True),
        ("http", "/metrics", "15s", True),
    ]
    targets = {r["targetLabel"] for r in spec["endpoints"][0]["relabelings"]}
    assert {"site", "component"} <= targets
    # every workload Service is selected and names a port the monitor scrapes
    services = kinds(docs, "Service")
    assert len(services) == 3
    for service in services:
        assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert {p["name"] for p in service["spec"]["ports"]} & {"metrics", "http"}
        assert service["metadata"]["labels"]["gridwatch.io/site"] == "plant-a"
    for component, found in pod_annotations(docs).items():
        assert "prometheus.io/scrape" not in found, component


def test_with_the_operator_api_but_the_flag_off_pods_keep_annotations() -> None:
    docs = render_chart(*MONITORING, "--set", "metrics.serviceMonitor.enabled=false")
    assert not kinds(docs, "ServiceMonitor")
    assert all(a.get("prometheus.io/scrape") == "true" for a in pod_annotations(docs).values())


def test_chart_dashboards_dir_holds_only_rendered_json() -> None:
    assert sorted(p.name for p in DASHBOARDS.iterdir()) == sorted(
        f"{n}.json" for n in ("site-overview", "pipeline-health", "api", "operator", "storage")
    )
    assert all(isinstance(json.loads(Path(p).read_text()), dict) for p in DASHBOARDS.iterdir())
