"""monitoring.selectorLabels: set once on the operator chart, carried by the operator to every site release, and put
on every ServiceMonitor and PrometheusRule (the operator's own included), which is what a default
kube-prometheus-stack selects by (release: <its release>)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch_operator.settings import GridwatchOperatorSettings
from gridwatch_operator.site import site_values
from jsonschema import Draft7Validator

from tests.unit.charts.test_prometheus_rules import CHART, ROOT, helm, run
from tests.unit.operator.fakes import runtime

OPERATOR_CHART = ROOT / "charts" / "gridwatch-operator"
MONITORING = ("--api-versions", "monitoring.coreos.com/v1")
MONITOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def template(chart: Path, *args: str, values: dict[str, Any] | None = None, tmp: Path | None = None) -> list[Any]:
    extra: list[str] = []
    if values is not None:
        assert tmp is not None
        path = tmp / f"values-{chart.name}.yaml"
        path.write_text(yaml.safe_dump(values))
        extra = ["-f", str(path)]
    result = run(helm(), "template", "plant-a", str(chart), "-n", "gw", *args, *extra)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def monitors(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in MONITOR_KINDS]


def operator_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_site_selector_labels_go_on_every_monitor_and_rule() -> None:
    docs = template(CHART, *MONITORING, "--set", "metrics.selectorLabels.release=kps")
    found = monitors(docs)
    assert {d["kind"] for d in found} == {"ServiceMonitor", "PrometheusRule"}
    for doc in found:
        assert doc["metadata"]["labels"]["release"] == "kps", doc["kind"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "plant-a", doc["kind"]
    # nothing else is labelled for Prometheus: the dashboards keep the Grafana sidecar's label only
    others = [d for d in docs if d["kind"] not in MONITOR_KINDS]
    assert all("release" not in (d["metadata"].get("labels") or {}) for d in others)


def test_an_objects_additional_labels_win_over_the_selector_labels() -> None:
    docs = template(
        CHART,
        *MONITORING,
        "--set",
        "metrics.selectorLabels.release=kps",
        "--set",
        "metrics.selectorLabels.team=energy",
        "--set",
        "metrics.prometheusRule.additionalLabels.release=rules-only",
    )
    labels = {d["kind"]: d["metadata"]["labels"] for d in monitors(docs)}
    assert labels["ServiceMonitor"]["release"] == "kps"
    assert labels["PrometheusRule"]["release"] == "rules-only"
    assert labels["ServiceMonitor"]["team"] == labels["PrometheusRule"]["team"] == "energy"


def test_without_selector_labels_monitors_carry_no_release_label() -> None:
    for doc in monitors(template(CHART, *MONITORING)):
        assert "release" not in doc["metadata"]["labels"], doc["kind"]


@pytest.mark.parametrize("chart", [CHART, OPERATOR_CHART], ids=["energy-site", "gridwatch-operator"])
def test_the_schemas_refuse_labels_kubernetes_would_refuse(chart: Path) -> None:
    schema = json.loads((chart / "values.schema.json").read_text())
    defaults = yaml.safe_load((chart / "values.yaml").read_text())

    def errors(labels: dict[str, Any]) -> list[str]:
        values = json.loads(json.dumps(defaults))
        section = values["metrics"] if chart == CHART else values["monitoring"]
        section["selectorLabels"] = labels
        return [e.message for e in Draft7Validator(schema).iter_errors(values)]

    assert errors({"release": "kube-prometheus-stack", "example.com/team": "a_b.c"}) == []
    assert errors({"release": "has space"})
    assert errors({"release": "x" * 64})
    assert errors({"bad key!": "v"})
    assert errors({"release": 1})


def test_the_operator_chart_passes_the_labels_to_the_operator() -> None:
    docs = template(OPERATOR_CHART, "--set", "monitoring.selectorLabels.release=kps")
    assert json.loads(operator_env(docs)["GRIDWATCH_OPERATOR_MONITORING_SELECTOR_LABELS"]) == {"release": "kps"}
    assert "GRIDWATCH_OPERATOR_MONITORING_SELECTOR_LABELS" not in operator_env(template(OPERATOR_CHART))


def test_operator_chart_labels_reach_every_site_monitor_through_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """operator chart values → the operator's environment → its settings → the site's values → the site chart."""
    env = operator_env(template(OPERATOR_CHART, "--set", "monitoring.selectorLabels.release=kps"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = GridwatchOperatorSettings()
    assert settings.monitoring_selector_labels == {"release": "kps"}
    rt = runtime()
    rt.settings = settings
    values = site_values(rt, "plant-a", "gw", {"sensors": {"count": 10}}, {})
    found = monitors(template(CHART, *MONITORING, values=values, tmp=tmp_path))
    assert {d["kind"] for d in found} == {"ServiceMonitor", "PrometheusRule"}
    assert all(d["metadata"]["labels"]["release"] == "kps" for d in found)


def test_site_values_of_the_operator_override_its_selector_labels() -> None:
    rt = runtime()
    rt.settings = GridwatchOperatorSettings(
        monitoring_selector_labels={"release": "kps", "team": "energy"},
        site_values={"metrics": {"selectorLabels": {"release": "other"}}},
    )
    values = site_values(rt, "plant-a", "gw", {}, {})
    assert values["metrics"]["selectorLabels"] == {"release": "other", "team": "energy"}
    rt.settings = GridwatchOperatorSettings()
    assert "selectorLabels" not in site_values(rt, "plant-a", "gw", {}, {}).get("metrics", {})


def test_the_operator_gets_a_servicemonitor_on_its_metrics_service() -> None:
    docs = template(OPERATOR_CHART, *MONITORING, "--set", "monitoring.selectorLabels.release=kps")
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["metadata"]["namespace"] == "gw"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["gw"]}
    assert spec["jobLabel"] == "app.kubernetes.io/component"
    (endpoint,) = spec["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["honorLabels"]) == ("metrics", "/metrics", True)
    # exactly one Service is selected, and it serves the port on the container's metrics port
    selected = [
        d
        for d in docs
        if d["kind"] == "Service" and spec["selector"]["matchLabels"].items() <= d["metadata"]["labels"].items()
    ]
    (service,) = selected
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == "metrics"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}


def test_no_operator_servicemonitor_without_the_api_or_when_disabled() -> None:
    assert not [d for d in template(OPERATOR_CHART) if d["kind"] == "ServiceMonitor"]
    disabled = template(OPERATOR_CHART, *MONITORING, "--set", "monitoring.serviceMonitor.enabled=false")
    assert not [d for d in disabled if d["kind"] == "ServiceMonitor"]


def notes(tmp_path: Path, *args: str) -> str:
    """The operator chart's NOTES.txt as helm renders it (helm template skips NOTES: a copy renders it as data)."""
    copy = tmp_path / "gridwatch-operator"
    shutil.copytree(OPERATOR_CHART, copy)
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data:\n  notes: {{ include "gridwatch-operator/templates/NOTES.txt" . | quote }}\n'
    )
    (rendered,) = [d for d in template(copy, *args) if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "notes"]
    text: str = rendered["data"]["notes"]
    return text


def test_notes_say_whether_prometheus_will_select_the_monitors(tmp_path: Path) -> None:
    unset = notes(tmp_path, *MONITORING)
    assert "monitoring.selectorLabels is empty" in unset
    assert "--set monitoring.selectorLabels.release=" in unset
    set_ = notes(tmp_path / "set", *MONITORING, "--set", "monitoring.selectorLabels.release=kps")
    assert "carry: release=kps" in set_
    assert "monitoring.selectorLabels is empty" not in set_
    assert "does not serve monitoring.coreos.com/v1" in notes(tmp_path / "noapi")


def site_notes(tmp_path: Path, *args: str) -> str:
    """The energy-site chart's NOTES.txt as helm renders it."""
    copy = tmp_path / "energy-site"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data:\n  notes: {{ include "energy-site/templates/NOTES.txt" . | quote }}\n'
    )
    (rendered,) = [d for d in template(copy, *args) if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "notes"]
    text: str = rendered["data"]["notes"]
    return text


def test_site_notes_say_whether_the_monitors_carry_selector_labels(tmp_path: Path) -> None:
    labelled = site_notes(tmp_path / "a", *MONITORING, "--set", "metrics.selectorLabels.release=kps")
    assert "labelled release=kps" in labelled
    assert "default\nkube-prometheus-stack ignores them" in site_notes(tmp_path / "b", *MONITORING)
    assert "ServiceMonitor" not in site_notes(tmp_path / "c")
