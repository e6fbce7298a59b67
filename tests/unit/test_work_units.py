"""The xdist work units of tests/conftest.py: every e2e test in one (one worker owns the clusters), else per module."""

from __future__ import annotations

from tests.conftest import work_unit


def test_every_e2e_test_shares_one_work_unit_across_folders() -> None:
    units = {
        work_unit("tests/e2e/test_operator.py::test_a"),
        work_unit("tests/e2e/realnode/test_autoscale.py::test_processors_scale_with_real_load_and_lose_no_reading"),
        work_unit("tests/e2e/ui/test_ui.py::test_ui_in_browser_against_live_stack"),
    }
    assert units == {"tests/e2e/"}


def test_other_tests_are_grouped_by_module_and_classes_stay_with_it() -> None:
    assert work_unit("tests/integration/test_faults.py::test_x") == "tests/integration/test_faults.py"
    assert work_unit("tests/unit/common/test_kernel.py::TestJudge::test_y[1]") == "tests/unit/common/test_kernel.py"
    assert work_unit("tests/integration/test_faults.py::test_x") != work_unit("tests/integration/test_pipeline.py::t")
