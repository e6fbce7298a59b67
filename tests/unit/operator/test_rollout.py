"""Rollout control: a site moves to the operator's chart only when its policy and windows allow; config changes
meanwhile go onto the chart it runs, rebuilt from helm's record (rollout.py, chartstore.py)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch_operator import chartstore
from gridwatch_operator.helm import CHART_PREFIX, DIGEST_PREFIX, Helm, Outcome, Release
from gridwatch_operator.maintenance import windows
from gridwatch_operator.rollout import AUTOMATIC, MANUAL, Policy, condition, ensure, gate
from gridwatch_operator.site import spec_digest

from tests.unit.charts.test_render import HELM, needs_helm
from tests.unit.operator.test_crd import REPO

SATURDAY_2AM = [{"schedule": "0 2 * * 6", "durationMinutes": 240}]
TUESDAY = dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)
SATURDAY_3AM = dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def record_of(version: str, template: str) -> dict[str, Any]:
    """A helm release record holding a one-template chart."""
    return {
        "chart": {
            "metadata": {"apiVersion": "v2", "name": "energy-site", "version": version},
            "values": {"site": "x"},
            "templates": [{"name": "templates/configmap.yaml", "data": _b64(template.encode())}],
            "files": [{"name": "dashboards/a.json", "data": _b64(b"{}")}],
            "schema": _b64(json.dumps(OLD_SCHEMA).encode()),
        }
    }


# the held chart's values.schema.json: closed objects, as charts/energy-site's
OLD_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "replicas": {"type": "integer"},
        "ratio": {"type": "number"},
        "api": {"type": "object", "additionalProperties": False, "properties": {"replicas": {"type": "integer"}}},
        "extraEnv": {"type": "object"},
    },
}


class RecordingHelm(Helm):
    """One release; the operator ships chart 0.2.0 (id `new`); remembers which chart each upgrade used."""

    def __init__(self, running: str | None = "0.1.0", chart_token: str | None = "old") -> None:
        super().__init__(Path("/nonexistent/chart"))
        self.current: Release | None = None
        self.deployed_values: dict[str, Any] = {}
        self.upgrades: list[tuple[str, str | None, dict[str, Any]]] = []  # (chart version used, chart id, values)
        self.metadata_reads = 0
        if running is not None:
            desc = f"{DIGEST_PREFIX}d0" + (f" {CHART_PREFIX}{chart_token}" if chart_token else "")
            self.current = Release("s", "ns", 1, "deployed", running, desc, "kind: List\n")
            self.deployed_values = {"replicas": 1, "ratio": 1.0}

    def chart_version(self) -> str:
        return "0.2.0"

    def chart_id(self) -> str:
        return "new"

    def status(self, name: str, namespace: str) -> Release | None:
        if self.current is None:
            return None
        return dataclasses.replace(self.current, chart_version="")  # `helm status` does not report the chart

    def deployed_chart_version(self, name: str, namespace: str) -> str:
        assert self.current is not None
        self.metadata_reads += 1
        return self.current.chart_version

    def values(self, name: str, namespace: str) -> dict[str, Any]:
        read: dict[str, Any] = json.loads(json.dumps(self.deployed_values).replace("1.0", "1"))  # helm: 1.0 is 1
        return read

    def record(self, name: str, namespace: str, revision: int) -> dict[str, Any]:
        assert self.current is not None and revision == self.current.revision
        return record_of(self.current.chart_version, "kind: ConfigMap\n")

    def ensure(self, name: str, namespace: str, values: Mapping[str, Any]) -> Outcome:
        return self.upgrade(name, namespace, self.chart, values, "d-new", self.chart_id())

    def upgrade(
        self, name: str, namespace: str, chart: Path, values: Mapping[str, Any], digest: str, chart_id: str | None
    ) -> Outcome:
        version = "0.2.0" if chart == self.chart else str(yaml.safe_load((chart / "Chart.yaml").read_text())["version"])
        if chart != self.chart:
            assert (chart / "templates" / "configmap.yaml").read_text() == "kind: ConfigMap\n"
        self.upgrades.append((version, chart_id, dict(values)))
        revision = 1 if self.current is None else self.current.revision + 1
        desc = f"{DIGEST_PREFIX}{digest}" + (f" {CHART_PREFIX}{chart_id}" if chart_id else "")
        self.current = Release(name, namespace, revision, "deployed", version, desc, "kind: List\n")
        self.deployed_values = dict(values)
        return Outcome(self.current, digest, changed=True)


def test_a_release_on_the_operators_chart_costs_no_metadata_read() -> None:
    helm = RecordingHelm(running="0.2.0", chart_token="new")
    result = ensure(helm, "s", "ns", {"replicas": 1}, Policy(MANUAL), TUESDAY)
    assert result.status["pending"] is False and helm.metadata_reads == 0


def test_a_new_site_is_installed_from_the_operators_chart_whatever_the_policy() -> None:
    helm = RecordingHelm(running=None)
    result = ensure(helm, "s", "ns", {"replicas": 1}, Policy(MANUAL), TUESDAY)
    assert helm.upgrades == [("0.2.0", "new", {"replicas": 1})]
    assert result.status["pending"] is False
    assert result.status["runningChartVersion"] == "0.2.0"


def test_automatic_moves_a_site_on_an_older_chart_at_once() -> None:
    helm = RecordingHelm()
    result = ensure(helm, "s", "ns", {"replicas": 1, "ratio": 1.0}, Policy(AUTOMATIC), TUESDAY)
    assert helm.upgrades == [("0.2.0", "new", {"replicas": 1, "ratio": 1.0})]
    assert result.status["pending"] is False
    assert "upgraded from chart 0.1.0 to 0.2.0" in result.status["message"]


def test_manual_holds_the_chart_and_makes_no_revision_when_nothing_else_changed() -> None:
    helm = RecordingHelm()
    result = ensure(helm, "s", "ns", {"replicas": 1, "ratio": 1.0}, Policy(MANUAL), TUESDAY)
    assert helm.upgrades == []  # 1.0 vs helm's 1 is the same value
    assert result.outcome.changed is False and result.outcome.release.revision == 1
    assert (result.status["pending"], result.status["reason"]) == (True, "AwaitingApproval")
    assert result.status["runningChartVersion"] == "0.1.0"  # from `helm get metadata`: helm status has no chart
    assert helm.metadata_reads == 1
    assert result.status["availableChartVersion"] == "0.2.0"
    assert "set spec.upgrade.chartVersion: '0.2.0'" in result.status["message"]


def test_a_config_change_while_held_is_applied_at_once_on_the_chart_the_site_runs() -> None:
    helm = RecordingHelm()
    result = ensure(helm, "s", "ns", {"replicas": 3, "ratio": 1.0}, Policy(MANUAL), TUESDAY)
    # the rebuilt 0.1.0 chart (its template checked in upgrade()), keeping the held chart's identity
    assert helm.upgrades == [("0.1.0", "old", {"replicas": 3, "ratio": 1.0})]
    assert result.outcome.changed is True
    assert result.status["pending"] is True
    # and the next pass still holds (the release still runs the old chart) without another revision
    again = ensure(helm, "s", "ns", {"replicas": 3, "ratio": 1.0}, Policy(MANUAL), TUESDAY)
    assert len(helm.upgrades) == 1 and again.status["pending"] is True


def test_values_an_unchanged_spec_maps_differently_wait_with_the_upgrade() -> None:
    helm = RecordingHelm()
    # the new operator maps the same spec to other values (a new default): not applied while held
    held = ensure(helm, "s", "ns", {"replicas": 1, "ratio": 0.5}, Policy(MANUAL), TUESDAY, apply_held=False)
    assert helm.upgrades == [] and held.outcome.changed is False and held.status["pending"] is True
    # once the gate opens they are applied with the new chart
    ensure(helm, "s", "ns", {"replicas": 1, "ratio": 0.5}, Policy(AUTOMATIC), TUESDAY, apply_held=False)
    assert helm.upgrades == [("0.2.0", "new", {"replicas": 1, "ratio": 0.5})]


def test_values_the_held_chart_does_not_know_are_dropped_not_refused_by_its_schema() -> None:
    helm = RecordingHelm()
    values = {
        "replicas": 1,
        "ratio": 1.0,
        "siteId": "new in 0.2.0",
        "api": {"replicas": 2, "auth": {"issuer": "new in 0.2.0"}},
        "extraEnv": {"OPEN": "objects keep every key"},
    }
    ensure(helm, "s", "ns", values, Policy(MANUAL), TUESDAY)
    assert helm.upgrades == [
        (
            "0.1.0",
            "old",
            {"replicas": 1, "ratio": 1.0, "api": {"replicas": 2}, "extraEnv": {"OPEN": "objects keep every key"}},
        )
    ]
    # only the new keys differ from what runs: nothing to apply on the held chart
    again = RecordingHelm()
    ensure(again, "s", "ns", {"replicas": 1, "ratio": 1.0, "siteId": "x"}, Policy(MANUAL), TUESDAY)
    assert again.upgrades == []


def test_manual_rolls_out_the_approved_chart_version_only() -> None:
    helm = RecordingHelm()
    ensure(helm, "s", "ns", {"replicas": 1}, Policy(MANUAL, chart_version="0.1.5"), TUESDAY)
    assert [u[0] for u in helm.upgrades] == ["0.1.0"]  # a config change on the held chart; 0.1.5 is not shipped
    result = ensure(helm, "s", "ns", {"replicas": 1}, Policy(MANUAL, chart_version="0.2.0"), TUESDAY)
    assert [u[0] for u in helm.upgrades] == ["0.1.0", "0.2.0"]
    assert result.status["pending"] is False


def test_windows_hold_the_upgrade_until_one_opens() -> None:
    helm = RecordingHelm()
    policy = Policy(AUTOMATIC, windows=windows(SATURDAY_2AM))
    held = ensure(helm, "s", "ns", {"replicas": 1, "ratio": 1.0}, policy, TUESDAY)
    assert helm.upgrades == []
    assert (held.status["reason"], held.status["nextWindow"]) == ("OutsideMaintenanceWindow", "2026-12-05T02:00:00Z")
    opened = ensure(helm, "s", "ns", {"replicas": 1, "ratio": 1.0}, policy, SATURDAY_3AM)
    assert [u[0] for u in helm.upgrades] == ["0.2.0"]
    assert opened.status["pending"] is False and "inside a maintenance window until" in opened.status["message"]


def test_a_release_recorded_before_chart_ids_is_compared_by_chart_version() -> None:
    same = RecordingHelm(running="0.2.0", chart_token=None)
    assert ensure(same, "s", "ns", {"replicas": 1, "ratio": 1.0}, Policy(MANUAL), TUESDAY).status["pending"] is False
    older = RecordingHelm(running="0.1.0", chart_token=None)
    result = ensure(older, "s", "ns", {"replicas": 2}, Policy(MANUAL), TUESDAY)
    assert result.status["pending"] is True
    assert older.upgrades == [("0.1.0", None, {"replicas": 2})]  # still no chart id: still compared by version


def test_inherit_takes_the_operators_policy_and_windows() -> None:
    inherited = Policy.resolve({"policy": "Inherit", "maintenanceWindows": [{"schedule": "0 0 * * *"}]}, MANUAL, [])
    assert (inherited.policy, inherited.windows, inherited.inherited) == (MANUAL, (), True)
    own = Policy.resolve({"policy": "Automatic", "maintenanceWindows": SATURDAY_2AM}, MANUAL, [])
    assert own.policy == AUTOMATIC and own.windows[0].minutes == 240
    assert not gate(inherited, "0.2.0", TUESDAY).open
    assert "(the operator's default)" in gate(inherited, "0.2.0", TUESDAY).message


def test_the_upgrade_pending_condition_follows_status_upgrade() -> None:
    assert condition({})["status"] == "False"
    held = {"upgrade": {"pending": True, "reason": "AwaitingApproval", "message": "running chart 0.1.0; ..."}}
    assert condition(held) == {
        "type": "UpgradePending",
        "status": "True",
        "reason": "AwaitingApproval",
        "message": "running chart 0.1.0; ...",
    }
    done = condition({"upgrade": {"pending": False, "runningChartVersion": "0.2.0"}})
    assert (done["status"], done["reason"], done["message"]) == (
        "False",
        "UpToDate",
        "running chart 0.2.0, the operator's",
    )


def test_helm_records_decode_gzipped_and_plain() -> None:
    body = json.dumps(record_of("0.1.0", "x")).encode()
    assert chartstore.decode(_b64(gzip.compress(body))) == json.loads(body)
    assert chartstore.decode(_b64(body)) == json.loads(body)
    with pytest.raises(chartstore.RecordError):
        chartstore.decode(_b64(b"not json"))


def test_a_record_naming_a_file_outside_the_chart_is_refused(tmp_path: Path) -> None:
    record = record_of("0.1.0", "x")
    record["chart"]["files"] = [{"name": "../../etc/passwd", "data": _b64(b"x")}]
    with pytest.raises(chartstore.RecordError, match="outside the chart"):
        chartstore.write_chart(record, tmp_path)


def _record_from(chart: Path) -> dict[str, Any]:
    """What helm stores for a chart directory: metadata, values, schema, templates, other files."""
    files = [p for p in sorted(chart.rglob("*")) if p.is_file()]
    rel = [(p, p.relative_to(chart).as_posix()) for p in files]
    skip = {"Chart.yaml", "values.yaml", "values.schema.json"}
    return {
        "chart": {
            "metadata": yaml.safe_load((chart / "Chart.yaml").read_text()),
            "values": yaml.safe_load((chart / "values.yaml").read_text()),
            "schema": _b64((chart / "values.schema.json").read_bytes()),
            "templates": [{"name": n, "data": _b64(p.read_bytes())} for p, n in rel if n.startswith("templates/")],
            "files": [
                {"name": n, "data": _b64(p.read_bytes())}
                for p, n in rel
                if not n.startswith("templates/") and n not in skip
            ],
        }
    }


@needs_helm
def test_the_rebuilt_chart_renders_exactly_what_the_original_renders(tmp_path: Path) -> None:
    original = REPO / "charts" / "energy-site"
    rebuilt = chartstore.write_chart(_record_from(original), tmp_path)
    values = REPO / "charts" / "energy-site" / "ci" / "observability-values.yaml"  # dashboards and rules: .Files

    def render(chart: Path) -> str:
        assert HELM is not None
        cmd = [HELM, "template", "plant-north", str(chart), "-n", "gw", "-f", str(values)]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    assert render(rebuilt) == render(original)


def test_the_applied_spec_digest_ignores_spec_upgrade_only() -> None:
    base = {"sensors": {"count": 5}, "upgrade": {"policy": "Inherit"}}
    assert spec_digest(base) == spec_digest({**base, "upgrade": {"policy": "Automatic", "maintenanceWindows": []}})
    assert spec_digest(base) != spec_digest({**base, "sensors": {"count": 6}})
