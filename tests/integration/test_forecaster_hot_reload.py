"""The forecaster hot-reloads a promoted selection on real Kafka, Redis and PostgreSQL: it re-forecasts with the
trained version at once (no restart), refuses a tampered one and keeps the version it serves."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import msgspec
import pytest
import redis
from gridwatch.common import registry
from gridwatch.common.db.migrate import connect
from gridwatch.common.registry import ModelKind
from gridwatch.common.schema import Forecast

from tests.infra.services import Postgres
from tests.utils import model_history
from tests.utils.cli import gridwatch
from tests.utils.workloads import Workload, free_port, wait_for

pytestmark = pytest.mark.integration


def site_forecast(client: redis.Redis, site: str) -> Forecast | None:
    blob = client.hget(f"gw:{site}:forecasts", "site:site")
    return None if blob is None else msgspec.json.decode(blob, type=Forecast)


def version_metric(port: int, name: str) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M)
    return None if found is None else float(found.group(1))


def test_forecaster_swaps_in_a_promoted_selection_and_refuses_a_tampered_one(
    base_env: dict[str, str], postgres: Postgres, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    model_history.seed(postgres.dsn, site, time.time())
    port = free_port()
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_ANALYTICS_FORECAST_HORIZON_MINUTES": "360",
        "GRIDWATCH_FORECAST_BACKTEST_FOLDS": "2",
        "GRIDWATCH_FORECAST_MODEL_POLL_S": "30",
    }
    forecaster = Workload("forecaster", {**env, "GRIDWATCH_METRICS_PORT": str(port)}, tmp_path).start()
    try:
        wait_for(
            lambda: (f := site_forecast(redis_client, site)) is not None and f.model_version.startswith("local-"),
            240,
            "a first forecast from the forecaster's own backtest",
            logs=(forecaster,),
        )
        trained = gridwatch(env, "train", "--model", "forecaster")
        assert "forecaster version 1: promoted" in trained.stdout, trained.stdout + trained.stderr
        wait_for(
            lambda: (f := site_forecast(redis_client, site)) is not None and f.model_version == "forecaster-v1",
            120,
            "forecasts re-issued with the promoted selection",
            logs=(forecaster,),
        )
        served = site_forecast(redis_client, site)
        with connect(postgres.dsn, "test") as conn:
            v1 = registry.get(conn, site, ModelKind.FORECASTER, 1)
            assert served is not None and served.model == v1.metrics["selected"]
            assert served.backtest_mase > 0
            blob, _ = registry.artifact_of(conn, site, ModelKind.FORECASTER, 1)
            bad = registry.register(
                conn,
                site,
                ModelKind.FORECASTER,
                algorithm=v1.algorithm,
                window=(v1.window_start, v1.window_end),
                features=v1.features,
                metrics=v1.metrics,
                artifact=blob,
                created_by="test",
            ).version
            conn.execute(
                "UPDATE gw_models SET artifact = set_byte(artifact, 60, get_byte(artifact, 60) # 255) "
                "WHERE site = %s AND kind = 'forecaster' AND version = %s",
                (site, bad),
            )
        assert gridwatch(env, "models", "promote", "forecaster", str(bad)).returncode == 0
        wait_for(
            lambda: version_metric(port, "gridwatch_forecaster_model_load_failures_total") == 1,
            60,
            "the tampered selection refused",
            logs=(forecaster,),
        )
        assert version_metric(port, "gridwatch_forecaster_model_version") == 1
        assert "promoted model failed to load; keeping the current one" in forecaster.log()
        assert forecaster.alive()
    finally:
        code = forecaster.stop()
    assert code == 0, forecaster.log()[-3000:]
