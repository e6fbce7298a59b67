"""The helm driver's no-op decision: digests of chart files and values, read back from the release."""

from __future__ import annotations

import shutil
from pathlib import Path

from gridwatch_operator.helm import DIGEST_PREFIX, Release, chart_digest, values_digest

from tests.unit.operator.test_crd import REPO

CHART = REPO / "charts" / "energy-site"


def test_values_digest_is_order_independent_and_value_sensitive() -> None:
    a = values_digest("c", {"x": 1, "y": {"z": [1, 2]}})
    assert a == values_digest("c", {"y": {"z": [1, 2]}, "x": 1})
    assert a != values_digest("c", {"x": 2, "y": {"z": [1, 2]}})
    assert a != values_digest("other-chart", {"x": 1, "y": {"z": [1, 2]}})


def test_chart_digest_changes_with_templates_but_not_ci_values(tmp_path: Path) -> None:
    copy = tmp_path / "energy-site"
    shutil.copytree(CHART, copy)
    original = chart_digest(copy)
    assert original == chart_digest(CHART)
    (copy / "ci" / "extra-values.yaml").write_text("{}\n")
    assert chart_digest(copy) == original
    notes = copy / "templates" / "NOTES.txt"
    notes.write_text(notes.read_text() + "\nchanged\n")
    assert chart_digest(copy) != original


def test_release_reads_the_digest_from_its_description() -> None:
    release = Release("s", "ns", 3, "deployed", "0.1.0", f"{DIGEST_PREFIX}abc123")
    assert release.digest == "abc123"
    assert Release("s", "ns", 1, "deployed", "0.1.0", "Install complete").digest is None
