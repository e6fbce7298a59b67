"""The chart's `helm test` script (charts/energy-site/files/helm-test.py) against a real `gridwatch api` on real
Redis, run exactly as the rendered test Pod runs it (command, args, env), with only the Service URL pointed at the
local API: it passes on a healthy site and fails, naming the check, when the API is another site's or has no UI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.infra.services import Redis
from tests.unit.charts.test_render import CHARTS, HELM, needs_helm
from tests.utils.workloads import Workload, free_port, wait_for

pytestmark = [pytest.mark.integration, needs_helm]
SITE = "gw.plant-north"  # what the chart names the site under `helm template -n gw plant-north`


def rendered_pod(*extra: str) -> dict[str, Any]:
    assert HELM is not None
    out = subprocess.run(
        [HELM, "template", "plant-north", str(CHARTS / "energy-site"), "-n", "gw",
         "--show-only", "templates/tests/api-test.yaml", *extra],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pod: dict[str, Any] = yaml.safe_load(out)
    return pod


def run_pod(pod: dict[str, Any], url: str, **override: str) -> subprocess.CompletedProcess[str]:
    """The Pod's container as a local process: its command and args, its env with the Service URL replaced."""
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["HELM_TEST_URL"].startswith("http://plant-north-api.gw.svc:")
    env |= {"HELM_TEST_URL": url, "HELM_TEST_ATTEMPTS": "2", **override}
    command = [sys.executable if part == "python" else part for part in container["command"]]
    args = [*command, *container["args"]]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def start_api(redis_server: Redis, tmp_path: Path, site: str, ui: bool) -> tuple[Workload, str]:
    static = tmp_path / "ui"
    static.mkdir()
    if ui:
        (static / "index.html").write_text('<!doctype html><html><body><div id="root"></div></body></html>\n')
    port = free_port()
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_API_PORT": str(port),
        "GRIDWATCH_METRICS_PORT": str(free_port()),
        "GRIDWATCH_API_STATIC_DIR": str(static),
    }
    api = Workload("api", env, tmp_path).start()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90, "API ready", logs=(api,))
    return api, base


@pytest.fixture
def api(redis_server: Redis, tmp_path: Path) -> Iterator[str]:
    proc, base = start_api(redis_server, tmp_path, SITE, ui=True)
    try:
        yield base
    finally:
        proc.stop()


def test_the_test_pod_passes_against_a_healthy_site(api: str) -> None:
    proc = run_pod(rendered_pod(), api)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split()[:2] for line in proc.stdout.splitlines()] == [
        ["ok", "ready"], ["ok", "health"], ["ok", "web"], ["ok", "read"],
    ]  # fmt: skip


def test_the_test_pod_fails_when_the_service_reaches_another_site(api: str) -> None:
    proc = run_pod(rendered_pod(), api, HELM_TEST_SITE="gw.plant-south")
    assert proc.returncode == 1
    assert "FAIL  health" in proc.stdout and "not 'gw.plant-south'" in proc.stdout


def test_the_test_pod_fails_when_reads_are_open_but_should_need_a_token(api: str) -> None:
    pod = rendered_pod("--set", "api.auth.issuer=https://id.example", "--set", "api.auth.audience=gw")
    proc = run_pod(pod, api)  # this API runs without OIDC: the read answers 200
    assert proc.returncode == 1
    assert "FAIL  read" in proc.stdout and "ok    health" in proc.stdout


def test_the_test_pod_fails_without_the_web_ui(redis_server: Redis, tmp_path: Path) -> None:
    proc, base = start_api(redis_server, tmp_path, SITE, ui=False)
    try:
        result = run_pod(rendered_pod(), base)
    finally:
        proc.stop()
    assert result.returncode == 1
    assert "FAIL  web UI" in result.stdout


def test_the_test_pod_fails_when_nothing_answers() -> None:
    proc = run_pod(rendered_pod(), f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == 1
    assert proc.stdout.count("FAIL") == 4 and "Connection refused" in proc.stdout
