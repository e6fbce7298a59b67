"""The web UI in a real browser (Debian's Chromium via Playwright) against the live local stack."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.ui.stack import CHROMIUM, UiStack, control_server, ensure_node_modules, ensure_ui_built, run_playwright


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make setup does it)")
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: install Node.js 20+ (make setup checks it)")
    ensure_ui_built()
    ensure_node_modules()
    stack = UiStack(tmp_path_factory.mktemp("ui"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.mark.timeout(2700)  # start-up bounds (stack.START_TIMEOUT_S) plus the browser run
def test_ui_in_browser_against_live_stack(ui_stack: UiStack) -> None:
    """Dashboard updates, sensor filters and detail, alert ack, API restart and reconnect, axe on every view."""
    with control_server(ui_stack) as control:
        result = run_playwright(ui_stack, control, "--project=ui")
    report = f"{result.stdout}\n{result.stderr}"
    print(report)
    assert result.returncode == 0, f"playwright failed:\n{report[-12000:]}\n\nworkload logs:\n{ui_stack.logs_tail()}"
    assert " passed" in result.stdout
    assert " failed" not in result.stdout
