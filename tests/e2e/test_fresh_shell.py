"""A newcomer's first commands work from a fresh clone in a fresh shell: nothing on PATH but the system's.

The clone is of the committed HEAD (uncommitted changes are not part of it), run under `env -i` with only
HOME and the system PATH, so nothing this test session put on PATH (uv, the venv) can hide a missing lookup.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from gridwatch.local.process import free_port
from gridwatch.local.workloads import WORKLOADS

from tests.utils.workloads import wait_for

ROOT = Path(__file__).resolve().parents[2]
# What a fresh login shell on Debian has (plus Go's official install dir, which `make k8s` uses).
SYSTEM_PATH = "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"


def fresh_shell(
    cwd: Path, command: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `command` like `env -i HOME=$HOME PATH=<system> [VAR=...] bash -c COMMAND` would."""
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    return subprocess.run(
        ["/usr/bin/env", "-i", f"HOME={Path.home()}", f"PATH={SYSTEM_PATH}", *extra, "/bin/bash", "-c", command],
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


def metrics_base() -> int:
    """A port base whose next len(WORKLOADS) + 1 ports are free (workload N's /metrics is on base + N)."""
    for _ in range(200):
        base = random.randrange(20_000, 40_000)
        try:
            for port in range(base + 1, base + len(WORKLOADS) + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free range of metrics ports")


def test_make_up_detached_supervises_and_make_down_stops_it_from_a_fresh_shell(clone: Path) -> None:
    """`make up-detached` (on free ports), a SIGKILLed workload restarted, `make status`, `make down`."""
    api_port = free_port()
    ports = {
        "GRIDWATCH_LOCAL_API_PORT": str(api_port),
        "GRIDWATCH_LOCAL_KAFKA_PORT": str(free_port()),
        "GRIDWATCH_LOCAL_REDIS_PORT": str(free_port()),
        "GRIDWATCH_LOCAL_POSTGRES_PORT": str(free_port()),
        "GRIDWATCH_LOCAL_PROMETHEUS_PORT": str(free_port()),
        "GRIDWATCH_LOCAL_METRICS_BASE": str(metrics_base()),
    }
    try:
        up = fresh_shell(clone, "make up-detached", timeout=1500, env=ports)
        assert up.returncode == 0, f"make up-detached failed:\n{up.stdout[-4000:]}\n{up.stderr[-3000:]}"
        assert "Gridwatch is up" in up.stdout
        base = f"http://127.0.0.1:{api_port}"
        wait_for(lambda: httpx.get(f"{base}/health", timeout=3).status_code == 200, 180, "the API of make up")

        status = json.loads((clone / ".gridwatch" / "status.json").read_text())
        pid = status["workloads"]["processor"]["pid"]
        os.kill(pid, signal.SIGKILL)

        def restarted() -> bool:
            doc = json.loads((clone / ".gridwatch" / "status.json").read_text())
            w = doc["workloads"]["processor"]
            return bool(w["restarts"] == 1 and w["state"] == "running" and w["pid"] != pid)

        wait_for(restarted, 60, "the supervisor to restart the SIGKILLed processor")
        shown = fresh_shell(clone, "make -s status", timeout=120, env=ports)
        assert shown.returncode == 0, shown.stderr
        assert "restarts 1, last exit -9" in shown.stdout
        assert httpx.get(f"{base}/health", timeout=3).status_code == 200  # the rest stayed up
    finally:
        down = fresh_shell(clone, "make down", timeout=300, env=ports)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (clone / ".gridwatch" / "up.pid").exists()
    gone = fresh_shell(clone, "make -s status", timeout=120, env=ports)
    assert gone.returncode != 0 and "not running" in gone.stdout
