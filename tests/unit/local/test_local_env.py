"""`make up`'s processors follow the trained detector: the environment the local runtime gives them has the
registry (PostgreSQL) and leaves GRIDWATCH_PROC_FOREST at its default, `auto`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gridwatch.local.runtime import Options, Runtime
from gridwatch.processor.settings import ProcessorSettings


def test_local_processors_serve_the_detector_the_local_trainer_promotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(Options(dir=tmp_path))
    assert "trainer" in runtime.opts.workloads  # the local run trains the detector it serves
    env = runtime.env("processor")
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("GRIDWATCH_")]:
            patch.delenv(name)
        for name, value in env.items():
            if name.startswith("GRIDWATCH_"):
                patch.setenv(name, value)
        settings = ProcessorSettings()
    assert settings.forest == "auto" and settings.postgres_conninfo
    assert settings.registry_detector and settings.scoring_config().forest
