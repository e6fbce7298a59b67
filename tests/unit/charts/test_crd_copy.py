"""The operator chart ships the CRD; its copy must be byte-identical to crds/ (run `make crds`)."""

from __future__ import annotations

from tests.unit.operator.test_crd import CRD_PATH, REPO


def test_chart_crd_copy_matches_the_source_of_truth() -> None:
    copy = REPO / "charts" / "gridwatch-operator" / "crds" / "energysite.yaml"
    assert copy.read_bytes() == CRD_PATH.read_bytes(), "charts/gridwatch-operator/crds is stale: run `make crds`"


def test_make_crds_copies_the_crd() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "cp crds/energysite.yaml charts/gridwatch-operator/crds/energysite.yaml" in makefile
