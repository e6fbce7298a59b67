"""charts/*/README.md: the Parameters tables are what readme-generator-for-helm makes of the `## @param` comments
of values.yaml today (`make chart-docs`), and every value has an @param."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.charts.test_render import CHARTS
from tests.unit.operator.test_crd import REPO

TOOL_DIR = REPO / "tools" / "chart-docs"
GENERATOR = TOOL_DIR / "node_modules" / ".bin" / "readme-generator"
CHART_NAMES = ["energy-site", "gridwatch-operator"]


def generator() -> str:
    """The pinned generator; missing is a failure, not a skip, so a stale README cannot pass unnoticed."""
    assert GENERATOR.exists(), "readme-generator-for-helm is missing: run `make setup` (npm ci in tools/chart-docs)"
    return str(GENERATOR)


def generate(chart: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Regenerate a copy of the chart's README (values.yaml and README.md copied into `out`)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(chart / "values.yaml", out / "values.yaml")
    shutil.copy(chart / "README.md", out / "README.md")
    args = [generator(), "--values", str(out / "values.yaml"), "--readme", str(out / "README.md")]
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("name", CHART_NAMES)
def test_the_readme_is_what_the_generator_makes_of_the_values(name: str, tmp_path: Path) -> None:
    chart = CHARTS / name
    proc = generate(chart, tmp_path)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert proc.returncode == 0, "\n".join(errors) or proc.stderr
    assert (tmp_path / "README.md").read_text() == (chart / "README.md").read_text(), (
        f"charts/{name}/README.md is stale: run `make chart-docs`"
    )


def test_a_value_without_an_param_is_refused(tmp_path: Path) -> None:
    """The check above can fail: the generator refuses values.yaml when a value has no @param."""
    chart = tmp_path / "chart"
    shutil.copytree(CHARTS / "energy-site", chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text() + "\nundocumented: 1\n")
    proc = generate(chart, tmp_path / "out")
    assert proc.returncode != 0
    assert "Missing metadata for key: undocumented" in proc.stdout


@pytest.mark.parametrize("name", CHART_NAMES)
def test_every_param_line_is_one_line(name: str) -> None:
    """The generator reads one line per @param: a wrapped description would lose its end in the README."""
    lines = (CHARTS / name / "values.yaml").read_text().splitlines()
    for before, line in itertools.pairwise(lines):
        after = line.strip()
        if before.lstrip().startswith("## @param"):
            assert not (after.startswith("## ") and not after.startswith("## @")), f"wrapped: {before!r}"


def test_the_generator_is_pinned() -> None:
    package = json.loads((TOOL_DIR / "package.json").read_text())
    version = package["devDependencies"]["@bitnami/readme-generator-for-helm"]
    assert version[0].isdigit(), f"pin an exact version, not {version!r}"
    lock = json.loads((TOOL_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@bitnami/readme-generator-for-helm"]["version"] == version
