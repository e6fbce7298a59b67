"""Shared pytest configuration: marks tests by folder (`-m integration` or `e2e`), schedules them for pytest-xdist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# Every e2e test is one unit of work for pytest-xdist: the two clusters (kwok's and the real node's, which owns the
# machine's gwbr0 bridge and /gridwatch-node cgroup) are session fixtures, so one worker runs all of them in their
# collected order and starts each plane once, while the unit and integration modules, one whole module at a time
# (its module fixtures set up once, its tests in their order), fill both workers around it.
CLUSTER_UNIT = "tests/e2e/"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


def work_unit(nodeid: str) -> str:
    """The xdist work unit of a test: every e2e test in one, else the test's module."""
    path = nodeid.split("::", 1)[0]
    return CLUSTER_UNIT if path.startswith(CLUSTER_UNIT) else path


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`pytest -n N`: xdist's scope scheduler with :func:`work_unit` as the scope (its own `--dist loadgroup` does not
    see `xdist_group` marks under pytest 9, which moved the node id that xdist 3.8 rewrites)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
