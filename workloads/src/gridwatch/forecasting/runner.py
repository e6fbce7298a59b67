"""The forecaster's loop: every step, read history from PostgreSQL, forecast, publish to Kafka and Redis."""

from __future__ import annotations

import contextlib
import math
import socket
import time

import msgspec
import psycopg
import redis
from confluent_kafka import KafkaException, Producer
from psycopg.rows import TupleRow

from gridwatch.common import kafka, redisclient
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.forecast import source
from gridwatch.common.forecast.models import horizon_steps
from gridwatch.common.forecast.panel import NotEnoughHistory
from gridwatch.common.forecast.selection import Pick, selections_of
from gridwatch.common.logging import configure_logging
from gridwatch.common.metrics import announce
from gridwatch.common.modelwatch import ModelWatcher
from gridwatch.common.probes import ProbeServer
from gridwatch.common.registry import ModelKind
from gridwatch.common.schema import Forecast, ForecastScope, encode_forecast
from gridwatch.common.shutdown import StopFlag
from gridwatch.forecasting import metrics
from gridwatch.forecasting.service import ForecastService
from gridwatch.forecasting.settings import ForecasterSettings

SETTLE_S = 10.0  # wait this long after a step boundary so the history writer has the step's last minute


def redis_key(site: str) -> str:
    """Hash `scope:id` -> JSON of the latest Forecast, the one the API serves."""
    return f"gw:{site}:forecasts"


class Forecaster:
    """Re-forecasts the site and every machine each step; keeps the last good forecasts when a step fails."""

    def __init__(self, settings: ForecasterSettings, stop: StopFlag) -> None:
        if not settings.postgres_conninfo:
            raise SystemExit("gridwatch forecaster needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_HISTORY_HOST)")
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="forecaster")
        self.labels = announce(settings.site, "forecaster")
        self.topic = settings.topic("forecasts")
        self.producer = Producer(kafka.producer_config(settings.kafka_bootstrap, f"forecaster@{socket.gethostname()}"))
        self.redis = redisclient.connect(settings)
        self.horizon = horizon_steps(settings.horizon_minutes, settings.step_s)
        self.service = ForecastService(
            settings.site, self.horizon, settings.backtest_folds, settings.reselect_hours * 3600
        )
        self.conn: psycopg.Connection[TupleRow] | None = None
        self.last_success = 0.0
        self.delivery = kafka.DeliveryTracker()
        self.models: ModelWatcher[dict[str, dict[str, Pick]]] = ModelWatcher(
            conninfo=settings.postgres_conninfo,
            redis_url=settings.redis_url,
            redis_client=redisclient.connect(settings, check=False),
            site=settings.site,
            kind=ModelKind.FORECASTER,
            component="forecaster",
            build=selections_of,
            poll_s=settings.model_poll_s,
            on_failed=lambda version, error: metrics.MODEL_LOAD_FAILURES.labels(**self.labels).inc(),
            log=self.log,
        )
        metrics.REGISTRY_VERSION.labels(**self.labels).set(0)

    def swap_model(self) -> None:
        """Before a step: serve a newly promoted selection (loaded and verified by the watcher thread)."""
        loaded = self.models.take()
        if loaded is not None:
            self.service.install(loaded.record.name, loaded.model)
            metrics.REGISTRY_VERSION.labels(**self.labels).set(loaded.record.version)

    def _db(self) -> psycopg.Connection[TupleRow]:
        if self.conn is None:
            conn = connect(self.settings.postgres_conninfo, "forecaster")
            ensure_schema(conn)
            self.conn = conn
        return self.conn

    def _drop_db(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
        self.conn = None

    def run_once(self, now: float | None = None) -> list[Forecast]:
        """One step: forecasts of the site and the machines, published to Kafka (delivered) and Redis."""
        s = self.settings
        now = time.time() if now is None else now
        started = time.perf_counter()
        conn = self._db()
        out: list[Forecast] = []
        panels = [(ForecastScope.SITE, source.site_panel(conn, s.site, s.step_s, s.history_days, now))]
        if s.machines and s.max_machines:
            panels.append(
                (
                    ForecastScope.MACHINE,
                    source.machine_panel(conn, s.site, s.step_s, s.history_days, now, s.max_machines),
                )
            )
        for scope, panel in panels:
            try:
                made = self.service.step(scope, panel, now)
            except NotEnoughHistory as exc:
                self.log.info("not enough history to forecast yet", scope=scope.value, reason=str(exc))
                made = []
            metrics.SERIES.labels(**self.labels, scope=scope.value).set(len(made))
            out.extend(made)
        self.publish(out)
        selection = self.service.site_selection()
        if selection is not None:
            metrics.MODEL.clear()
            metrics.MODEL.labels(**self.labels, model=selection.models[0], version=selection.version).set(1)
        metrics.RUN_SECONDS.labels(**self.labels).observe(time.perf_counter() - started)
        metrics.RUNS.labels(**self.labels).inc()
        metrics.LAST_SUCCESS.labels(**self.labels).set(time.time())
        self.last_success = time.monotonic()
        self.log.info("forecast step done", forecasts=len(out), seconds=round(time.perf_counter() - started, 3))
        return out

    def publish(self, forecasts: list[Forecast]) -> None:
        """Kafka first (every delivery confirmed), then the latest per series in one Redis transaction."""
        if not forecasts:
            return
        failed_before = self.delivery.failed
        for f in forecasts:
            kafka.produce(
                self.producer,
                self.topic,
                encode_forecast(f),
                f"{f.scope.value}:{f.id}".encode(),
                on_delivery=self.delivery,
            )
        if self.producer.flush(30) or self.delivery.failed > failed_before:
            raise KafkaException(f"forecasts not delivered to Kafka: {self.delivery.last_error}")
        key = redis_key(self.settings.site)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={f"{f.scope.value}:{f.id}": msgspec.json.encode(f) for f in forecasts})
        pipe.expire(key, self.settings.redis_ttl_s)
        pipe.execute()
        metrics.PUBLISHED.labels(**self.labels).inc(len(forecasts))

    def run(self) -> None:
        """Forecast now, then shortly after every step boundary, until stopped."""
        s = self.settings
        self.log.info("topics ready", topics=kafka.ensure_site_topics(s))
        self.models.start()
        try:
            while self.stop.running:
                self.swap_model()
                try:
                    self.run_once()
                except (psycopg.Error, KafkaException, redis.RedisError, OSError) as exc:
                    metrics.ERRORS.labels(**self.labels).inc()
                    self.log.error("forecast step failed; keeping the last forecasts", error=str(exc))
                    self._drop_db()
                now = time.time()
                self._sleep_until(math.floor(now / s.step_s) * s.step_s + s.step_s + SETTLE_S)
        finally:
            self.models.close()
            self.producer.flush(10)
            self._drop_db()
            self.redis.close()
            self.log.info("forecaster stopped")

    def _sleep_until(self, wake: float) -> None:
        """Until the next step, or sooner when a newly promoted selection is ready: re-forecast with it at once."""
        self.stop.wait(1.0)
        while self.stop.running and time.time() < wake and not self.models.has_new():
            self.stop.wait(min(1.0, wake - time.time()))

    def ready(self) -> bool:
        """Ready once a step succeeded within the last two steps (or none has been due yet)."""
        return self.last_success > 0 and time.monotonic() - self.last_success < 2 * self.settings.step_s + 120


def main(settings: ForecasterSettings) -> None:
    """Entry point for `gridwatch forecaster`."""
    stop = StopFlag().install()
    forecaster = Forecaster(settings, stop)
    probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=forecaster.ready).start()
    try:
        forecaster.run()
    finally:
        probes.stop()
