"""Site isolation: two EnergySites of one name in two namespaces get disjoint topics, consumer groups, Redis keys
and PostgreSQL site rows (operator values rendered by the real chart, read back by the workloads' settings); an
operator upgrade keeps a running site's identity; explicit siteId and topicPrefix still win."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from gridwatch.alerting.settings import AlertSettings
from gridwatch.common.rediskeys import Keys
from gridwatch.history.settings import HistorySettings
from gridwatch.processor.settings import ProcessorSettings
from gridwatch_operator.spec import SiteSpec, site_identity
from gridwatch_operator.values import helm_values

from tests.unit.charts.test_ingest import CHART, HELM, needs_helm
from tests.unit.operator.fakes import FakeHelm, FakeKafka, runtime, site_spec

IMAGE = "gridwatch:test"


def test_same_name_in_two_namespaces_gets_two_identities() -> None:
    spec = site_spec()
    a, b = SiteSpec.parse("north", spec, "team-a"), SiteSpec.parse("north", spec, "team-b")
    assert (a.site_id, b.site_id) == ("team-a.north", "team-b.north")
    assert not set(a.kafka.topics) & set(b.kafka.topics)
    assert a.kafka.processor_group == "team-a.north.processor" != b.kafka.processor_group
    assert a.kafka.readings_topic == "team-a.north.readings"


def test_the_identity_is_unambiguous() -> None:
    # '-' may appear in both names, '.' in neither: "a-b"/"c" and "a"/"b-c" stay apart
    assert site_identity("c", "a-b", {}) != site_identity("b-c", "a", {})


def test_upgrade_keeps_the_identity_of_a_running_site() -> None:
    deployed_before = {"helm": {"release": "north", "revision": 7}}  # no status.siteId: an older operator
    assert site_identity("north", "team-a", {}, deployed_before) == "north"
    recorded = {"helm": {"revision": 8}, "siteId": "team-a.north"}
    assert site_identity("north", "team-a", {}, recorded) == "team-a.north"
    assert site_identity("north", "team-a", {"siteId": "legacy"}, recorded) == "legacy"  # spec wins
    assert site_identity("north", "", {}) == "north"  # no namespace (hand-written specs)


def test_an_explicit_topic_prefix_still_wins_but_not_for_redis() -> None:
    spec = site_spec(kafka={"topicPrefix": "eu1"})
    a, b = SiteSpec.parse("north", spec, "team-a"), SiteSpec.parse("north", spec, "team-b")
    assert a.kafka.topics == b.kafka.topics and a.kafka.readings_topic == "eu1.readings"  # shared on purpose
    assert a.site_id != b.site_id  # Redis keys and PostgreSQL rows stay apart
    values = helm_values("north", spec, {}, default_image=IMAGE, namespace="team-a")
    assert values["kafka"]["topicPrefix"] == "eu1" and values["siteId"] == "team-a.north"


def test_reconcile_records_the_identity_and_keeps_it() -> None:
    from gridwatch_operator.site import apply_site

    from tests.unit.operator.fakes import Events

    helm, kafka, events = FakeHelm(), FakeKafka(), Events()
    rt = runtime(helm, kafka)
    spec = site_spec()
    first = apply_site(rt, SiteSpec.parse("north", spec, "team-a", {}), "team-a", spec, {}, 1, events)
    assert first["siteId"] == "team-a.north"
    assert helm.applied[-1]["siteId"] == "team-a.north"
    assert kafka.created[0][1][0] == "team-a.north.readings"
    again = apply_site(rt, SiteSpec.parse("north", spec, "team-a", first), "team-a", spec, first, 2, events)
    assert again["siteId"] == "team-a.north" and len(helm.applied) == 1  # recorded identity, no new revision


def _rendered_env(tmp_path: Path, namespace: str, values: dict[str, Any]) -> dict[str, str]:
    assert HELM is not None
    file = tmp_path / f"{namespace}.yaml"
    file.write_text(yaml.safe_dump(values))
    args = [HELM, "template", "north", str(CHART), "-n", namespace, "-f", str(file)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    (config,) = [
        d
        for d in yaml.safe_load_all(proc.stdout)
        if d and d["kind"] == "ConfigMap" and "config" in d["metadata"]["name"]
    ]
    return {k: str(v) for k, v in config["data"].items()}


@needs_helm
def test_the_chart_gives_each_namespace_its_own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    for namespace in ("team-a", "team-b"):
        values = helm_values("north", site_spec(), {}, default_image=IMAGE, namespace=namespace)
        env = _rendered_env(tmp_path, namespace, values)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        proc, hist, alerts = ProcessorSettings(), HistorySettings(), AlertSettings()
        keys = Keys(proc.site)
        seen.append(
            {
                "topics": {proc.topic(k) for k in ("readings", "enriched", "alerts", "dlq")},
                "groups": {proc.consumer_group, hist.consumer_group, alerts.consumer_group},
                "redis": {keys.sensors, keys.index, keys.channel},
                "postgres site": {hist.site, alerts.site},
            }
        )
    a, b = seen
    for part in a:
        assert not a[part] & b[part], f"{part} shared by two namespaces: {a[part] & b[part]}"
    assert a["postgres site"] == {"team-a.north"} and "team-a.north.readings" in a["topics"]
    assert "gw:team-a.north:sensors" in a["redis"]


@needs_helm
def test_the_chart_alone_defaults_to_the_namespace_and_honours_site_id(tmp_path: Path) -> None:
    assert _rendered_env(tmp_path, "team-a", {})["GRIDWATCH_SITE"] == "team-a.north"
    assert _rendered_env(tmp_path, "team-b", {"siteId": "north"})["GRIDWATCH_SITE"] == "north"  # pre-existing site
