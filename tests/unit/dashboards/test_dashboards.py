"""Dashboards as code: the committed JSON is what the code renders, and every query is well-formed and real."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from gridwatch.api import energy_today
from gridwatch.api import metrics as api_metrics
from gridwatch.api.contract import (
    DashboardStats,
    EnergyCost,
    ProducerInfo,
    ProducerStatus,
    RiskySensor,
    StatusCounts,
)
from gridwatch.dashboards import render
from gridwatch.dashboards.boards import BOARDS
from gridwatch.dashboards.queries import expand, panel_queries, variable_queries
from gridwatch.processor import metrics as processor_metrics
from gridwatch.simulator import metrics as simulator_metrics
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = ROOT / "charts" / "energy-site" / "dashboards"
# series Prometheus itself makes, not any workload
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
METRIC = re.compile(r"\b((?:gridwatch|process)_[a-zA-Z0-9_]+)\b")


def exported_metric_names() -> set[str]:
    """Every sample name a Gridwatch workload or the operator exposes (including _bucket/_count/_sum)."""
    # the storage board's metrics: the ingest downlink, the optimizer and the rebalancer register them on import
    # the history writer's and the alert engine's (the persistence alert rules read them)
    import gridwatch.alerting.metrics
    import gridwatch.history.metrics
    import gridwatch.ingest.downlink
    import gridwatch.rebalancer.runner
    import gridwatch.storage.runner  # noqa: F401
    import gridwatch_operator.metrics  # noqa: F401  (registers the operator's metrics)

    simulator_metrics.init("catalog", 1.0)
    labels = processor_metrics.init("catalog")
    processor_metrics.score_histogram(labels)
    processor_metrics.latency_histogram(labels)
    api_labels = api_metrics.init("catalog")
    stats = DashboardStats(
        site="catalog",
        total_sensors=1,
        total_power_kw=1.0,
        energy_kwh=1.0,
        readings_total=1,
        anomalies_total=0,
        status_counts=StatusCounts(normal=1, warning=0, critical=0),
        active_anomalies=0,
        top_failure_probabilities=[RiskySensor(id="m0-power", failure_probability=0.5)],
        last_reading_ts=time.time(),
        updated_at=time.time(),
    )
    now = time.time()
    producers = ProducerStatus(
        connected=True,
        last_heartbeat=now,
        timeout_seconds=15.0,
        producers=[
            ProducerInfo(
                producer="sim-0",
                ts=now,
                received_at=now,
                sensors=1,
                readings_sent=1,
                rate=1.0,
                age_seconds=0.0,
                connected=True,
            )
        ],
    )
    api_metrics._COLLECTOR.put(api_labels, api_metrics.Snapshot(time.time(), stats, producers))
    today = EnergyCost(
        site="catalog", timezone="UTC", currency="EUR", per="day", from_=0.0, to=1.0, buckets=[],
        total_energy_kwh=1.0, total_cost=0.25, pricing="catalog",
    )  # fmt: skip
    energy_today.COLLECTOR.put(api_labels, time.time(), today)
    try:
        names = set(REGISTRY._names_to_collectors)
        for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
            names.update(sample.name for sample in family.samples)
    finally:
        api_metrics._COLLECTOR.drop(api_labels)
        energy_today.COLLECTOR.drop(api_labels)
    return names | PROMETHEUS_SERIES


def metric_names(expr: str) -> set[str]:
    """Gridwatch and process metric names a PromQL expression reads."""
    return set(METRIC.findall(expr))


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DASHBOARDS / f"{name}.json").read_text())
    return doc


def test_committed_dashboards_are_what_the_code_renders() -> None:
    stale = render.stale(DASHBOARDS)
    assert not stale, f"{stale} differ from gridwatch.dashboards; run `make dashboards` and commit the result"


def test_check_mode_fails_on_a_changed_or_extra_file(tmp_path: Path) -> None:
    render.write(tmp_path)
    assert render.main(["--check", "--out", str(tmp_path)]) == 0
    edited = tmp_path / "api.json"
    edited.write_text(edited.read_text().replace("Gridwatch / API", "Hand-edited"))
    assert render.main(["--check", "--out", str(tmp_path)]) == 1
    render.write(tmp_path)
    (tmp_path / "extra.json").write_text("{}")
    assert render.main(["--check", "--out", str(tmp_path)]) == 1


def test_rendering_is_deterministic_sorted_json() -> None:
    first = render.render_all()
    assert first == render.render_all()
    for text in first.values():
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


@pytest.mark.parametrize("name", list(BOARDS))
def test_datasource_and_site_are_template_variables(name: str) -> None:
    doc = load(name)
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    site = variables["site"]
    assert site["type"] == "query"
    assert site["datasource"]["uid"] == "${datasource}"
    assert dict(variable_queries(doc))["site"] == (
        'label_values(gridwatch_build_info{cluster=~"$cluster",namespace=~"$namespace"}, site)'
    )
    # several sites at once, or all of them; cluster and namespace narrow the list, All matching series without them
    assert site["multi"] is True and site["includeAll"] is True
    for label in ("cluster", "namespace"):
        narrowing = variables[label]
        assert narrowing["query"] == f"label_values(gridwatch_build_info, {label})"
        assert (narrowing["multi"], narrowing["includeAll"], narrowing["allValue"]) == (True, True, ".*")
    assert re.fullmatch(variables["namespace"]["allValue"], "")  # `make up` series carry no namespace label


@pytest.mark.parametrize("name", list(BOARDS))
def test_boards_link_to_each_other_and_the_runbooks(name: str) -> None:
    links = {link["title"]: link for link in load(name)["links"]}
    boards = links["Gridwatch"]
    assert (boards["type"], boards["tags"], boards["includeVars"], boards["keepTime"]) == (
        "dashboards",
        ["gridwatch"],
        True,
        True,
    )
    assert all("gridwatch" in load(other)["tags"] for other in BOARDS)  # so the dropdown lists every board
    runbooks = links["Runbooks"]
    assert runbooks["type"] == "link"
    assert runbooks["url"].endswith("/docs/runbooks")
    assert (ROOT / "docs" / "runbooks" / "ProcessorDown.md").is_file()


@pytest.mark.parametrize("name", list(BOARDS))
def test_helm_revisions_scaling_decisions_and_alerts_are_annotations(name: str) -> None:
    annotations = {a["name"]: a for a in load(name)["annotations"]["list"]}
    assert set(annotations) == {"Helm revisions", "Scaling decisions", "Alerts firing"}
    exported = exported_metric_names() | {"ALERTS"}
    for annotation in annotations.values():
        assert annotation["enable"] is True
        assert annotation["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert 'site=~"$site"' in annotation["expr"], annotation
        assert "[$__rate_interval]" in annotation["expr"] or annotation["expr"].startswith("ALERTS{")
        assert set(re.findall(r"\b(gridwatch_[a-z0-9_]+|ALERTS)\b", annotation["expr"])) <= exported


@pytest.mark.parametrize("name", list(BOARDS))
def test_time_is_shown_in_the_site_time_zone_not_the_browsers(name: str) -> None:
    assert load(name)["timezone"] == "utc"  # the chart puts the site's time zone in its place


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_query_uses_the_variables(name: str) -> None:
    doc = load(name)
    queries = list(panel_queries(doc))
    assert len(queries) >= 8
    for panel in doc["panels"]:
        if panel.get("targets"):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    for q in queries:
        assert 'site=~"$site"' in q.expr, f"{q.panel}: {q.expr}"
        windows = set(re.findall(r"\[([^\]]+)\]", q.expr))
        assert windows <= {"$__rate_interval", "$__range"}, f"{q.panel}: fixed range window in {q.expr}"
        if "rate(" in q.expr:
            assert "[$__rate_interval]" in q.expr, f"{q.panel}: rate() without $__rate_interval"


@pytest.mark.parametrize("name", list(BOARDS))
def test_panel_ids_and_ref_ids_are_unique(name: str) -> None:
    doc = load(name)
    ids = [p["id"] for p in doc["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    for panel in doc["panels"]:
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert all(refs) and len(set(refs)) == len(refs), panel["title"]


def test_every_metric_a_dashboard_queries_is_exported_by_a_workload() -> None:
    exported = exported_metric_names()
    missing = {
        (q.dashboard, q.panel, m)
        for name in BOARDS
        for q in panel_queries(load(name))
        for m in metric_names(q.expr)
        if m not in exported
    }
    assert not missing, f"queries name metrics no workload exports: {sorted(missing)}"


def test_the_metric_check_can_fail() -> None:
    exported = exported_metric_names()
    assert "gridwatch_processor_readings_total" in exported
    assert "gridwatch_processor_end_to_end_latency_seconds_bucket" in exported
    assert "gridwatch_api_site_failure_probability" in exported
    assert "gridwatch_processor_readings_totl" not in exported


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        (
            "site-overview",
            {
                "Power",
                "Energy rate (import / export)",
                "Sensors by status",
                "Anomalies by kind",
                "Top failure probabilities",
                "Energy today",
                "Cost today",
            },
        ),
        (
            "pipeline-health",
            {"Throughput", "Consumer lag by partition", "End-to-end latency", "Dead-lettered messages", "Errors"},
        ),
        ("api", {"Requests by route", "Request latency", "WebSocket clients", "5xx ratio"}),
        ("operator", {"Reconciliations", "Reconcile duration", "Scaling decisions", "Helm revision"}),
        (
            "storage",
            {"Plan age", "Plans by status", "Solve time", "Plan degraded", "Safety clamps", "Grid signals in the plan"},
        ),
    ],
)
def test_each_dashboard_has_the_panels_the_issue_asks_for(name: str, titles: set[str]) -> None:
    present = {p["title"] for p in load(name)["panels"]}
    assert titles <= present, f"missing {titles - present}"


def test_latency_panels_show_p50_and_p99() -> None:
    latency = [q for q in panel_queries(load("pipeline-health")) if q.panel == "End-to-end latency"]
    assert sorted(q.expr.split(",")[0] for q in latency) == ["histogram_quantile(0.5", "histogram_quantile(0.99"]


def test_expand_substitutes_variables_and_builtins() -> None:
    expr = 'sum(rate(x{site="$site"}[$__rate_interval])) + y{site="${site}"}'
    assert expand(expr, {"site": "a"}) == 'sum(rate(x{site="a"}[30s])) + y{site="a"}'
    with pytest.raises(KeyError):
        expand('x{zone="$zone"}', {"site": "a"})
