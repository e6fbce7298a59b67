"""Shared pytest configuration: marks tests by folder (`-m unit/integration/e2e`) and groups them for pytest-xdist."""

from __future__ import annotations

from pathlib import Path

import pytest

# Every e2e test in one xdist group: the two clusters (kwok's and the real node's) are session fixtures, so one worker
# runs all of them in order and starts each plane once, while the other worker runs the unit and integration
# modules (each module whole, so its module fixtures are set up once and its tests keep their order).
CLUSTER_GROUP = "e2e-clusters"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        group = CLUSTER_GROUP if "e2e" in parts else str(item.fspath)
        item.add_marker(pytest.mark.xdist_group(group))
