"""Alert rules: promtool accepts and unit-tests them, each has a runbook, the chart scopes them to its site."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.dashboards.test_dashboards import exported_metric_names, metric_names

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "energy-site"
RULES = CHART / "rules" / "gridwatch-rules.yaml"
RULE_TESTS = sorted((Path(__file__).parent / "rules").glob("*.test.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
ALERTS = {
    "ProducerDown",
    "ProcessorLagHigh",
    "AnomalyRateHigh",
    "DLQGrowing",
    "APIErrorRateHigh",
    "ProcessorDown",
    # storage optimizer and rebalancer (gridwatch.storage group)
    "StoragePlanStale",
    "StoragePlanDegraded",
    "StorageSolveFailing",
    "RebalancerPlanStale",
    "RebalancerSafetyClampsHigh",
    # history writer and alert outbox (gridwatch.persistence), the EnergySite's conditions (gridwatch.site)
    "HistoryWriterLagging",
    "AlertOutboxBacklog",
    "EnergySiteDegraded",
    "EnergySiteNoData",
}
RUNBOOK_BASE = "https://github.com/gridwatch/gridwatch/blob/main/docs/runbooks/"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: it comes with Debian's prometheus package (`make setup` installs it)"
    return path


def helm() -> str:
    """helm from PATH or the control plane's build cache; skip (with the reason) where it was never built."""
    cached = sorted(glob.glob(str(Path.home() / ".cache/gridwatch/k8s/*/bin/helm")))
    found = shutil.which("helm") or (cached[-1] if cached else None)
    if found is None:
        pytest.skip("helm is not built yet: tests/infra/k8s/build.sh builds it into ~/.cache/gridwatch/k8s")
    return found


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, input=stdin, check=False, timeout=120)


def test_promtool_checks_the_rule_file() -> None:
    result = run(promtool(), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_rule_unit_tests_exist() -> None:
    assert RULE_TESTS, "no tests/unit/rules/*.test.yaml"


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.name for p in RULE_TESTS])
def test_promtool_rule_unit_tests_pass(test_file: Path) -> None:
    result = run(promtool(), "test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_of_the_issue_is_defined_once_with_severity_and_runbook() -> None:
    defined = [r["alert"] for r in rules()]
    assert sorted(defined) == sorted(ALERTS)
    for rule in rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}{name}.md", name
        runbook = RUNBOOKS / f"{name}.md"
        assert runbook.is_file(), f"{runbook} is missing"
        assert runbook.read_text().startswith(f"# {name}"), runbook


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test_file in RULE_TESTS:
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing == ALERTS
    assert quiet == ALERTS


def test_every_metric_a_rule_reads_is_exported_by_a_workload() -> None:
    exported = exported_metric_names()
    missing = {(r["alert"], m) for r in rules() for m in metric_names(r["expr"]) if m not in exported}
    assert not missing, f"rules read metrics no workload exports: {sorted(missing)}"


def render_chart(*args: str) -> list[dict[str, Any]]:
    result = run(helm(), "template", "plant-a", str(CHART), *args)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_prometheusrule_is_rendered_only_where_the_prometheus_operator_api_exists() -> None:
    disabled = ("--set", "metrics.prometheusRule.enabled=false")
    api = ("--api-versions", "monitoring.coreos.com/v1")
    assert not [d for d in render_chart() if d["kind"] == "PrometheusRule"]  # enabled by default, but no API
    assert not [d for d in render_chart(*api, *disabled) if d["kind"] == "PrometheusRule"]
    rendered = [d for d in render_chart(*api) if d["kind"] == "PrometheusRule"]
    assert len(rendered) == 1
    shipped = [r["alert"] for g in rendered[0]["spec"]["groups"] for r in g["rules"]]
    assert sorted(shipped) == sorted(ALERTS)


def test_the_chart_rules_pass_promtool_and_fire_only_for_their_own_site(tmp_path: Path) -> None:
    docs = render_chart(
        "-n",
        "ops",
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        "metrics.prometheusRule.additionalLabels.release=kube-prometheus-stack",
    )
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rule_file = tmp_path / "chart-rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = run(promtool(), "check", "rules", str(rule_file))
    assert check.returncode == 0, check.stdout + check.stderr
    # the same heartbeat gap at two sites, one of the same name in another namespace: the release of plant-a in ops
    # alerts for its own identity (ops.plant-a, the metrics' site label) only
    heartbeat = "gridwatch_processor_producer_heartbeat_timestamp_seconds"
    case = {
        "rule_files": [rule_file.name],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    {"series": f'{heartbeat}{{site="{site}",producer="simulator"}}', "values": "0+15x4 60x30"}
                    for site in ("ops.plant-a", "other.plant-a", "ops.plant-b")
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "ProducerDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical", "site": "ops.plant-a", "producer": "simulator"},
                                "exp_annotations": {
                                    "summary": "Readings producer simulator of site ops.plant-a is down",
                                    "description": (
                                        "Producer simulator sent no heartbeat for over 30 seconds or its metrics "
                                        "endpoint does not answer: no new readings reach the site, so its live "
                                        "state goes stale."
                                    ),
                                    "runbook_url": f"{RUNBOOK_BASE}ProducerDown.md",
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "scoped.test.yaml").write_text(yaml.safe_dump(case))
    result = run(promtool(), "test", "rules", "scoped.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
