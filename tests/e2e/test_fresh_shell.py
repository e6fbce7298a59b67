"""A newcomer's first commands work from a fresh clone in a fresh shell: nothing on PATH but the system's.

The clone is of the committed HEAD (uncommitted changes are not part of it), run under `env -i` with only
HOME and the system PATH, so nothing this test session put on PATH (uv, the venv) can hide a missing lookup.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a fresh login shell on Debian has (plus Go's official install dir, which `make k8s` uses).
SYSTEM_PATH = "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"


def fresh_shell(cwd: Path, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `command` like `env -i HOME=$HOME PATH=<system> bash -c COMMAND` would."""
    return subprocess.run(
        ["/usr/bin/env", "-i", f"HOME={Path.home()}", f"PATH={SYSTEM_PATH}", "/bin/bash", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: nothing to clone")
    dest = tmp_path_factory.mktemp("fresh") / "gridwatch"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True, timeout=120)
    return dest


def test_make_setup_and_the_cli_work_from_a_fresh_shell(clone: Path) -> None:
    setup = fresh_shell(clone, "make setup", timeout=1200)
    assert setup.returncode == 0, f"make setup failed:\n{setup.stdout[-3000:]}\n{setup.stderr[-3000:]}"
    assert "command not found" not in setup.stdout + setup.stderr

    targets = fresh_shell(clone, "make -s help", timeout=60)
    assert targets.returncode == 0, targets.stderr
    assert "up-detached" in targets.stdout

    # The environment `make setup` built answers from the same fresh shell.
    cli = fresh_shell(clone, ".venv/bin/gridwatch --help", timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert "simulator" in cli.stdout and "processor" in cli.stdout
