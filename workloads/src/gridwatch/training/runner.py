"""Training runs: fit a candidate, register it, promote it if it beats the model in service, announce it.

`gridwatch train --model forecaster|detector|all` runs once (the chart's CronJob); `gridwatch trainer` runs every
`GRIDWATCH_TRAIN_INTERVAL_HOURS` and serves /metrics (the local runtime).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg
import redis
from psycopg.rows import TupleRow

from gridwatch.common import redisclient, registry
from gridwatch.common.artifact import Artifact, ArtifactError, dumps, loads
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.forecast.panel import NotEnoughHistory
from gridwatch.common.forecast.selection import selections_of
from gridwatch.common.forest import ArrayForest
from gridwatch.common.logging import configure_logging
from gridwatch.common.metrics import announce
from gridwatch.common.probes import ProbeServer
from gridwatch.common.registry import ModelKind, ModelRecord
from gridwatch.common.scoring import FOREST_FEATURES
from gridwatch.common.shutdown import StopFlag
from gridwatch.training import detector, forecaster, metrics
from gridwatch.training.settings import TrainerSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What one training run did: `promoted`, `kept` (a candidate that did not beat the served model), `skipped`
    (not enough history) or `failed`; the registry record of the candidate when there is one."""

    kind: ModelKind
    outcome: str
    reason: str
    record: ModelRecord | None = None


class Trainer:
    """Trains one site's models from its PostgreSQL history into the registry."""

    def __init__(self, settings: TrainerSettings) -> None:
        if not settings.postgres_conninfo:
            raise SystemExit("gridwatch trainer needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_POSTGRES_HOST)")
        self.settings = settings
        self.log = configure_logging(settings.log_level, site=settings.site, component="trainer")
        self.labels = announce(settings.site, "trainer")

    def train(self, kind: ModelKind, now: float | None = None) -> Outcome:
        """One training run of one kind; never raises for missing history (outcome `skipped`)."""
        s = self.settings
        now = time.time() if now is None else now
        started = time.perf_counter()
        with connect(s.postgres_conninfo, "trainer") as conn:
            ensure_schema(conn)
            try:
                out = self._train(conn, kind, now)
            except (NotEnoughHistory, detector.NotEnoughData) as exc:
                out = Outcome(kind, "skipped", str(exc))
        metrics.RUNS.labels(**self.labels, kind=kind.value, outcome=out.outcome).inc()
        metrics.SECONDS.labels(**self.labels, kind=kind.value).observe(time.perf_counter() - started)
        if out.record is not None:
            metrics.LAST_SUCCESS.labels(**self.labels, kind=kind.value).set(time.time())
            if out.record.primary is not None:
                metrics.METRIC.labels(**self.labels, kind=kind.value).set(out.record.primary)
        self.log.info(
            "training run done",
            kind=kind.value,
            outcome=out.outcome,
            reason=out.reason,
            version=None if out.record is None else out.record.version,
            seconds=round(time.perf_counter() - started, 2),
        )
        if out.outcome == "promoted" and out.record is not None:
            self._announce(kind, out.record.version)
        return out

    def _train(self, conn: psycopg.Connection[TupleRow], kind: ModelKind, now: float) -> Outcome:
        s = self.settings
        served = registry.promoted(conn, s.site, kind)
        if kind is ModelKind.FORECASTER:
            fit = forecaster.train(
                conn,
                s.site,
                now,
                step_s=s.step_s,
                horizon_minutes=s.horizon_minutes,
                history_days=s.history_days,
                folds=s.backtest_folds,
                max_machines=s.max_machines,
            )
            candidate = fit.metric()
            served_metric = None
            if served is not None:
                picks = self._served_artifact(conn, served, selections_of)
                if picks is not None:
                    names = {scope: {i: p[0] for i, p in sel.items()} for scope, sel in picks.items()}
                    served_metric = fit.metric(names)
            record = registry.register(
                conn,
                s.site,
                kind,
                algorithm="backtest-selection",
                window=fit.window,
                features=sorted({m for f in fit.scopes.values() for m in f.models}),
                metrics={**fit.metrics(), "served_mase": served_metric},
                artifact=dumps(fit.artifact()),
                created_by=s.created_by,
            )
        else:
            dfit, holdout = detector.train(
                conn,
                s.site,
                now,
                s.detector_hours,
                s.detector_max_sensors,
                s.forest_trees,
                s.seed,
                s.detector_min_rows,
            )
            candidate = dfit.metrics["mass_volume"]
            served_metric = None
            if served is not None:
                old = self._served_artifact(conn, served, ArrayForest.from_artifact)
                served_metric = None if old is None else detector.evaluate(old, holdout, s.seed)["mass_volume"]
            meta = {"features": list(FOREST_FEATURES), "sensors": dfit.sensors, "rows": dfit.rows}
            record = registry.register(
                conn,
                s.site,
                kind,
                algorithm="isolation-forest",
                window=dfit.window,
                features=list(FOREST_FEATURES),
                metrics={**dfit.metrics, "served_mass_volume": served_metric, "sensors": dfit.sensors},
                artifact=dumps(dfit.forest.to_artifact(meta)),
                created_by=s.created_by,
            )
        decision = registry.decide(kind, candidate, served_metric, s.promote_margin)
        if decision.promote and s.auto_promote:
            record = registry.promote(conn, s.site, kind, record.version, s.created_by, decision.reason)
            return Outcome(kind, "promoted", decision.reason, record)
        why = decision.reason if decision.promote is False else f"{decision.reason}; auto-promotion is off"
        registry.note(conn, s.site, kind, record.version, "kept", s.created_by, why)
        return Outcome(kind, "kept", why, record)

    def _served_artifact(
        self, conn: psycopg.Connection[TupleRow], served: ModelRecord, build: Callable[[Artifact], T]
    ) -> T | None:
        """The served model, to judge it on the candidate's data; None (and a warning) if it no longer loads."""
        blob, recorded = registry.artifact_of(conn, served.site, served.kind, served.version)
        try:
            return build(loads(blob, recorded, served.kind.value))
        except (ArtifactError, ValueError) as exc:
            self.log.warning("the served model does not load; judging the candidate alone", error=str(exc))
            return None

    def _announce(self, kind: ModelKind, version: int) -> None:
        client = redisclient.connect(self.settings)
        try:
            registry.announce(client, self.settings.site, kind, version)
        except (redis.RedisError, OSError) as exc:  # replicas still find it at their next registry check
            self.log.warning("could not announce the promotion on Redis", error=str(exc))
        finally:
            client.close()


def kinds(model: str) -> list[ModelKind]:
    """The kinds `--model` names: forecaster, detector or all."""
    if model == "all":
        return list(ModelKind)
    return [ModelKind(model)]


def main(settings: TrainerSettings) -> None:
    """Entry point for `gridwatch trainer`: train every kind now and then every interval, until stopped."""
    stop = StopFlag().install()
    trainer = Trainer(settings)
    last_ok = {"at": 0.0}

    def ready() -> bool:
        return last_ok["at"] > 0

    probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=ready).start()
    try:
        while stop.running:
            for kind in ModelKind:
                try:
                    trainer.train(kind)
                    last_ok["at"] = time.time()
                except psycopg.Error as exc:
                    metrics.RUNS.labels(**trainer.labels, kind=kind.value, outcome="failed").inc()
                    trainer.log.error(
                        "training run failed; retrying at the next interval", kind=kind.value, error=str(exc)
                    )
            stop.wait(settings.interval_hours * 3600.0)
    finally:
        probes.stop()
        trainer.log.info("trainer stopped")
