"""No workload imports another: each `gridwatch <command>` package reaches shared code through gridwatch.common only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "workloads" / "src" / "gridwatch"
# One folder per workload (docs/architecture.md); the others are libraries and tools any of them may use:
# common (shared code), optimizer (the API's suggestion engine), local (the `make up` runtime), evaluation and
# dashboards (offline tools), ops (the SRE commands: check, config, dlq, kubectl plugin), cli.py (the entry point
# that dispatches to every workload).
WORKLOADS = (
    "simulator", "processor", "history", "alerting", "ingest", "grid", "api", "storage", "rebalancer",
    "forecasting", "training", "replay",
)  # fmt: skip
LIBRARIES = ("common", "optimizer", "local", "evaluation", "dashboards", "ops")


def imported_packages(path: Path) -> set[str]:
    """The gridwatch.<package> names a module imports (absolute imports; the tree uses no relative ones)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "gridwatch" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_package_is_classified() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(WORKLOADS) | set(LIBRARIES)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_a_workload_imports_no_other_workload(workload: str) -> None:
    crossings = {
        f"{path.relative_to(SRC)} -> gridwatch.{other}"
        for path in (SRC / workload).rglob("*.py")
        for other in imported_packages(path)
        if other in WORKLOADS and other != workload
    }
    assert not crossings, "move what both need into gridwatch.common:\n" + "\n".join(sorted(crossings))


@pytest.mark.parametrize("library", ("common", "optimizer"))
def test_shared_libraries_import_no_workload(library: str) -> None:
    crossings = {
        f"{path.relative_to(SRC)} -> gridwatch.{other}"
        for path in (SRC / library).rglob("*.py")
        for other in imported_packages(path)
        if other in WORKLOADS
    }
    assert not crossings, "\n".join(sorted(crossings))
