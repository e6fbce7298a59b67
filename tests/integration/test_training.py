"""`gridwatch train` and `gridwatch models` on a real PostgreSQL (and Redis): train, promote by margin, roll back,
and the API's /api/v1/models."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from gridwatch.common import registry
from gridwatch.common.artifact import loads
from gridwatch.common.db.migrate import connect
from gridwatch.common.forecast.selection import selections_of
from gridwatch.common.forest import ArrayForest
from gridwatch.common.registry import ModelKind, ModelState

from tests.infra.services import Postgres
from tests.utils import model_history
from tests.utils.cli import gridwatch
from tests.utils.workloads import Workload, free_port, wait_for

pytestmark = pytest.mark.integration


def test_train_promote_by_margin_and_roll_back(
    base_env: dict[str, str], postgres: Postgres, site: str, tmp_path: Path
) -> None:
    model_history.seed(postgres.dsn, site, time.time())
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_ANALYTICS_FORECAST_HORIZON_MINUTES": "360",
        "GRIDWATCH_FORECAST_BACKTEST_FOLDS": "2",
        "GRIDWATCH_TRAIN_DETECTOR_HOURS": str(9 * 24),
        "GRIDWATCH_TRAIN_CREATED_BY": "it-test",
    }
    first = gridwatch(env, "train", "--model", "all")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "forecaster version 1: promoted (no model in service" in first.stdout, first.stdout
    assert "detector version 1: promoted (no model in service" in first.stdout, first.stdout

    with connect(postgres.dsn, "test") as conn:
        fc = registry.promoted(conn, site, ModelKind.FORECASTER)
        det = registry.promoted(conn, site, ModelKind.DETECTOR)
        assert fc is not None and det is not None and fc.version == det.version == 1
        assert fc.created_by == "it-test" and fc.window_end > fc.window_start
        # the backtest on this smooth daily load beats the weekly yardstick by far
        assert fc.metrics["mase"] < fc.metrics["yardstick_mase"]
        assert fc.metrics["site_series"] == 1 and fc.metrics["machine_series"] == 4
        picks = selections_of(loads(*registry.artifact_of(conn, site, ModelKind.FORECASTER, 1), "forecaster"))
        assert set(picks["machine"]) == {f"m{k:05d}" for k in range(4)}
        forest = ArrayForest.from_artifact(loads(*registry.artifact_of(conn, site, ModelKind.DETECTOR, 1), "detector"))
        assert det.features == ["z", "dz", "stuck"] and 0 < det.metrics["mass_volume"] < 1
        assert det.metrics["train_rows"] > 2000
        # a reading far outside what the history taught is an outlier, a typical one is not
        raw = -forest.score_samples(np.array([[0.1, 0.0, 0.0], [30.0, 30.0, 0.0]]))
        assert raw[0] < forest.threshold_score < raw[1]

    # the same history again: the candidates cannot beat the served models by a 50 % margin, so they are kept
    second = gridwatch({**env, "GRIDWATCH_TRAIN_PROMOTE_MARGIN": "0.5"}, "train", "--model", "all")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "forecaster version 2: kept (mase" in second.stdout, second.stdout
    assert "detector version 2: kept (mass_volume" in second.stdout, second.stdout

    listed = json.loads(gridwatch(env, "models", "list", "--json").stdout)
    states = {(m["kind"], m["version"]): m["state"] for m in listed}
    assert states == {
        ("forecaster", 1): "promoted",
        ("forecaster", 2): "candidate",
        ("detector", 1): "promoted",
        ("detector", 2): "candidate",
    }
    table = gridwatch(env, "models", "list", "--kind", "detector").stdout
    assert "isolation-forest" in table and "mass_volume=" in table and "forecaster" not in table

    promoted = gridwatch(env, "models", "promote", "detector", "2", "--actor", "alice")
    assert promoted.returncode == 0 and "detector-v2 promoted" in promoted.stdout, promoted.stderr
    with connect(postgres.dsn, "test") as conn:
        assert registry.get(conn, site, ModelKind.DETECTOR, 1).state is ModelState.RETIRED
        assert [e["event"] for e in registry.events(conn, site, ModelKind.DETECTOR, 2)] == [
            "registered",
            "kept",
            "promoted",
        ]
    back = gridwatch(env, "models", "rollback", "detector")
    assert back.returncode == 0 and "detector-v1 promoted" in back.stdout, back.stderr
    with connect(postgres.dsn, "test") as conn:
        assert registry.get(conn, site, ModelKind.DETECTOR, 2).state is ModelState.RETIRED
        assert registry.promoted(conn, site, ModelKind.DETECTOR).version == 1  # type: ignore[union-attr]
    nothing = gridwatch(env, "models", "rollback", "forecaster")
    assert nothing.returncode == 2 and "nothing to roll back to" in nothing.stderr
    missing = gridwatch(env, "models", "promote", "forecaster", "9")
    assert missing.returncode == 2 and "no forecaster model version 9" in missing.stderr

    api_port = free_port()
    api = Workload("api", {**env, "GRIDWATCH_API_PORT": str(api_port)}, tmp_path).start()
    try:
        base = f"http://127.0.0.1:{api_port}/api/v1/models"
        wait_for(lambda: httpx.get(base).status_code == 200, 60, "the API lists models", logs=(api,))
        page = httpx.get(base).json()
        assert page["total"] == 4
        by = {(m["kind"], m["version"]): m for m in page["items"]}
        assert by[("detector", 1)]["state"] == "promoted" and by[("detector", 1)]["primary_metric"] == "mass_volume"
        assert by[("forecaster", 1)]["backtest"] and by[("forecaster", 1)]["metrics"]["mase"] > 0
        only = httpx.get(base, params={"kind": "forecaster", "state": "candidate"}).json()
        assert [(m["kind"], m["version"]) for m in only["items"]] == [("forecaster", 2)]
        bad = httpx.get(base, params={"kind": "oracle"})
        assert bad.status_code == 422 and "kind" in bad.text
    finally:
        api.stop()


def test_trainer_service_trains_at_start_serves_metrics_and_stops_on_sigterm(
    base_env: dict[str, str], postgres: Postgres, site: str, tmp_path: Path
) -> None:
    """`gridwatch trainer` (what `make up` runs) on a site without history: both runs are skipped, and say so."""
    port = free_port()
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn, "GRIDWATCH_METRICS_PORT": str(port)}
    trainer = Workload("trainer", env, tmp_path).start()
    try:
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200,
            180,
            "trainer ready",
            logs=(trainer,),
        )
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        for kind in ("forecaster", "detector"):
            assert f'kind="{kind}",outcome="skipped",site="{site}"}} 1.0' in text, text
        assert "not enough history" in trainer.log() and "feature rows" in trainer.log()
    finally:
        code = trainer.stop()
    assert code == 0, trainer.log()[-3000:]
