"""ct.yaml (chart-testing): its lint configuration exists and the charts pass what `ct lint` checks besides helm
lint (tests/unit/charts/test_render.py runs helm lint --strict with every ci/*-values.yaml): yamllint with
.ci/lintconf.yaml and yamale with .ci/chart_schema.yaml, run here with the same tools."""

from __future__ import annotations

from pathlib import Path

import pytest
import yamale
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.unit.charts.test_render import CHARTS
from tests.unit.operator.test_crd import REPO

CT = yaml.safe_load((REPO / "ct.yaml").read_text())
CHART_NAMES = ["energy-site", "gridwatch-operator"]


def lint_problems(path: Path, text: str | None = None) -> list[str]:
    config = YamlLintConfig(file=str(REPO / CT["lint-conf"]))
    content = path.read_text() if text is None else text
    return [f"{path.name}:{p.line}: {p.message} ({p.rule})" for p in linter.run(content, config, str(path))]


def test_ct_yaml_points_at_the_charts_and_its_lint_files() -> None:
    assert CT["chart-dirs"] == ["charts"] and CT["target-branch"] == "main"
    assert (REPO / CT["lint-conf"]).is_file() and (REPO / CT["chart-yaml-schema"]).is_file()
    assert {p.name for p in CHARTS.iterdir() if (p / "Chart.yaml").exists()} == set(CHART_NAMES)
    assert CT["validate-chart-schema"] and CT["validate-yaml"] and CT["check-version-increment"]


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_and_values_files_pass_yamllint(name: str) -> None:
    chart = CHARTS / name
    files = [chart / "Chart.yaml", chart / "values.yaml", *sorted((chart / "ci").glob("*.yaml"))]
    assert [p for f in files for p in lint_problems(f)] == []


def test_yamllint_catches_what_ct_would_refuse() -> None:
    values = CHARTS / "energy-site" / "values.yaml"
    broken = values.read_text() + "logLevel: DEBUG   \n"  # a duplicate key, with trailing spaces
    rules = {p.rsplit("(", 1)[1] for p in lint_problems(values, broken)}
    assert {"key-duplicates)", "trailing-spaces)"} <= rules


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_yaml_matches_the_chart_schema(name: str) -> None:
    schema = yamale.make_schema(str(REPO / CT["chart-yaml-schema"]))
    yamale.validate(schema, yamale.make_data(str(CHARTS / name / "Chart.yaml")))


@pytest.mark.parametrize(("field", "value"), [("kubeVersion", None), ("version", "0.2"), ("apiVersion", "v1")])
def test_the_chart_schema_refuses_what_the_charts_must_not_lose(field: str, value: str | None, tmp_path: Path) -> None:
    meta = yaml.safe_load((CHARTS / "energy-site" / "Chart.yaml").read_text())
    if value is None:
        del meta[field]
    else:
        meta[field] = value
    (tmp_path / "Chart.yaml").write_text(yaml.safe_dump(meta))
    schema = yamale.make_schema(str(REPO / CT["chart-yaml-schema"]))
    with pytest.raises(yamale.YamaleError, match=field):
        yamale.validate(schema, yamale.make_data(str(tmp_path / "Chart.yaml")))
