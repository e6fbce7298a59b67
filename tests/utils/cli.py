"""Run the real `gridwatch` command line in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys


def gridwatch(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`gridwatch ARGS...` with `env` over this process's environment; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
