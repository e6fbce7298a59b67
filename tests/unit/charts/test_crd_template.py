"""The operator chart serves crds/energysite.yaml as a template (so `helm upgrade` upgrades it); run `make crds`."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml
from gridwatch_operator import crd_template

from tests.unit.charts.test_render import CHARTS, HELM, needs_helm
from tests.unit.operator.test_crd import CRD_PATH, REPO, load_crd


def test_the_chart_template_is_generated_from_the_source_of_truth() -> None:
    template = REPO / "charts" / "gridwatch-operator" / "templates" / "crds" / "energysite.yaml"
    assert template.read_text() == crd_template.render(CRD_PATH.read_text()), "CRD template is stale: run `make crds`"
    assert "python -m gridwatch_operator.crd_template" in (REPO / "Makefile").read_text()


def test_no_crd_is_left_in_crds_where_helm_would_never_upgrade_it() -> None:
    assert not (CHARTS / "gridwatch-operator" / "crds").exists()


def test_a_template_action_in_the_source_is_refused_not_rendered() -> None:
    with pytest.raises(crd_template.TemplateError, match="template action"):
        crd_template.render(CRD_PATH.read_text().replace("Stop reconciling", "Stop {{ .Values.x }}"))


def _crds(*sets: str) -> list[dict[str, Any]]:
    assert HELM is not None
    args = [HELM, "template", "gridwatch-operator", str(CHARTS / "gridwatch-operator"), "-n", "gridwatch-system"]
    for value in sets:
        args += ["--set", value]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d and d.get("kind") == "CustomResourceDefinition"]


@needs_helm
def test_helm_renders_exactly_the_source_crd_with_the_keep_policy() -> None:
    [crd] = _crds()
    assert crd["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert crd == load_crd()


@needs_helm
def test_crds_keep_and_create_switch_the_policy_and_the_crd_off() -> None:
    [crd] = _crds("crds.keep=false")
    assert "annotations" not in crd["metadata"] or not crd["metadata"]["annotations"]
    assert _crds("crds.create=false") == []
