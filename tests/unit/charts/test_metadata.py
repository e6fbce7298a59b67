"""Chart.yaml of both charts: the Kubernetes versions they need, an icon that exists and Artifact Hub annotations
that agree with the images, the CRD and the values the charts really use."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import yaml

from tests.infra.controlplane import ControlPlane
from tests.unit.charts.test_render import CHARTS, HELM, needs_helm
from tests.unit.operator.test_crd import REPO, defaulted_spec, load_crd, validate_spec

CHART_NAMES = ["energy-site", "gridwatch-operator"]
RAW = "https://raw.githubusercontent.com/gridwatch/gridwatch/main/"
# The lowest minor each chart accepts and why: the CRD's CEL rules (GA in 1.29), CronJob spec.timeZone (GA in 1.27).
MINIMUM = {"gridwatch-operator": 29, "energy-site": 27}
CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


def chart(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHARTS / name / "Chart.yaml").read_text())
    return data


def annotation(name: str, key: str) -> Any:
    return yaml.safe_load(chart(name)["annotations"][f"artifacthub.io/{key}"])


def _template(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run(
        [HELM, "template", "x", str(CHARTS / name), "-n", "gw", *args], capture_output=True, text=True, check=False
    )


@needs_helm
@pytest.mark.parametrize("name", CHART_NAMES)
def test_kube_version_admits_the_minimum_and_refuses_older_servers(name: str) -> None:
    minor = MINIMUM[name]
    assert _template(name, "--kube-version", f"1.{minor}.0").returncode == 0
    assert _template(name, "--kube-version", f"v1.{minor}.4-gke.1043000").returncode == 0  # vendor pre-release tag
    older = _template(name, "--kube-version", f"1.{minor - 1}.9")
    assert older.returncode != 0 and "chart requires kubeVersion" in older.stderr


@needs_helm
def test_the_project_helm_renders_for_the_control_plane_it_tests_against() -> None:
    """Without a cluster, helm renders for the version stamped at build time (tests/infra/k8s/build.sh)."""
    out = _template("energy-site", "--show-only", "templates/service.yaml")
    assert out.returncode == 0, (
        f"{out.stderr}\nthis helm predates build.sh's k8sVersion ldflags (it renders for v1.20.0): "
        f"rm {HELM} && make k8s"
    )
    minor = int(ControlPlane().k8s_version.split(".")[1])
    assert all(minor >= m for m in MINIMUM.values())


@pytest.mark.parametrize("name", CHART_NAMES)
def test_the_icon_exists_in_the_repository_and_is_an_svg(name: str) -> None:
    icon = chart(name)["icon"]
    assert icon.startswith(RAW), icon
    path = REPO / icon.removeprefix(RAW)
    assert path.is_file(), f"{icon} points at {path}, which does not exist"
    root = ET.fromstring(path.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 512 512"  # square, as Artifact Hub and Helm repositories show it


@pytest.mark.parametrize("name", CHART_NAMES)
def test_links_and_sources_point_into_the_repository(name: str) -> None:
    meta = chart(name)
    urls = [link["url"] for link in annotation(name, "links")] + meta["sources"]
    for url in urls:
        match = re.fullmatch(r"https://github\.com/gridwatch/gridwatch/(?:blob|tree)/main/(.+)", url)
        assert match, url
        assert (REPO / match.group(1)).exists(), f"{url}: {match.group(1)} is not in the repository"


@pytest.mark.parametrize("name", CHART_NAMES)
def test_images_are_the_ones_the_chart_runs(name: str) -> None:
    meta = chart(name)
    values = yaml.safe_load((CHARTS / name / "values.yaml").read_text())
    repositories = [values["image"]["repository"]]
    if name == "gridwatch-operator":
        repositories.append(values["workloadsImage"]["repository"])
    expected = sorted(f"{repo}:{meta['appVersion']}" for repo in repositories)
    images = annotation(name, "images")
    assert sorted(i["image"] for i in images) == expected
    assert all(i["name"] == i["image"].split("/")[-1].split(":")[0] for i in images)


def test_the_operator_chart_lists_its_crd_with_an_example_that_validates() -> None:
    crd = load_crd()
    [listed] = annotation("gridwatch-operator", "crds")
    assert listed["name"] == crd["metadata"]["name"]
    assert listed["kind"] == crd["spec"]["names"]["kind"]
    assert listed["version"] in [v["name"] for v in crd["spec"]["versions"] if v["served"]]
    assert listed["displayName"] and listed["description"]
    examples = annotation("gridwatch-operator", "crdsExamples")
    assert [e["kind"] for e in examples] == [listed["kind"]]
    for example in examples:
        assert example["apiVersion"] == f"{crd['spec']['group']}/{listed['version']}"
        assert validate_spec(defaulted_spec(example["spec"])) == []
    assert chart("gridwatch-operator")["annotations"]["artifacthub.io/operator"] == "true"


def test_a_wrongly_typed_crd_example_is_caught() -> None:
    """The check above can fail: a count that is not an integer is refused."""
    [example] = annotation("gridwatch-operator", "crdsExamples")
    spec = defaulted_spec(example["spec"])
    spec["sensors"]["count"] = "five hundred"
    assert validate_spec(spec)


@pytest.mark.parametrize("name", CHART_NAMES)
def test_changes_use_artifact_hub_kinds(name: str) -> None:
    changes = annotation(name, "changes")
    assert changes
    for change in changes:
        assert change["kind"] in CHANGE_KINDS and change["description"]


@needs_helm
@pytest.mark.parametrize("name", CHART_NAMES)
def test_the_chart_metadata_passes_helm_lint(name: str) -> None:
    """helm lint reads Chart.yaml too (test_render lints every ci/ values file); no icon warning either."""
    assert HELM is not None
    proc = subprocess.run([HELM, "lint", "--strict", str(CHARTS / name)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "icon is recommended" not in proc.stdout
