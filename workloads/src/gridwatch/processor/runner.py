"""The processor: score a batch, publish enriched readings and alerts, then write Redis, then commit."""

from __future__ import annotations

import socket
import time
from typing import Any

import numpy as np
import redis
from confluent_kafka import Consumer, TopicPartition

from gridwatch.common import kafka, redisclient, tracing
from gridwatch.common.consumer import ConsumerLoop, ConsumerSpec, Finish, Record, retry
from gridwatch.common.forest import ArrayForest
from gridwatch.common.lag import LagTracker
from gridwatch.common.live import LiveBatch, LiveChange
from gridwatch.common.logging import configure_logging
from gridwatch.common.modelwatch import ModelWatcher
from gridwatch.common.probes import ProbeServer
from gridwatch.common.registry import ModelKind
from gridwatch.common.schema import (
    SCHEMA_VERSION,
    SENSOR_TYPES,
    SOURCE_CODE,
    TYPE_CODE,
    Alert,
    EnrichedBatch,
    Heartbeat,
    ReadingBatch,
    SensorType,
    Severity,
    describe_implausible,
    encode,
    implausible,
    select,
)
from gridwatch.common.scoring import KINDS, STATUSES, BatchResult, Scorer, SensorTable
from gridwatch.common.shutdown import StopFlag
from gridwatch.common.state import ProducerBeat
from gridwatch.processor import metrics
from gridwatch.processor.settings import ProcessorSettings
from gridwatch.processor.store import Pending, StateStore

MAX_CLOCK_SKEW_S = 300.0
MAX_AGE_S = 7 * 86400.0
EMIT_CHUNK = 5000  # readings per enriched message (~200 kB packed)


class Processor:
    """Consumes `<prefix>.readings` at least once and keeps Redis state current."""

    def __init__(self, settings: ProcessorSettings, stop: StopFlag) -> None:
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="processor")
        self.labels = metrics.init(settings.site)
        self.topic = settings.topic("readings")
        self.loop = ConsumerLoop(
            ConsumerSpec(
                settings.kafka_bootstrap,
                self.topic,
                settings.consumer_group,
                f"processor@{socket.gethostname()}",
                settings.topic("dlq"),
                settings.batch_max_messages,
                settings.poll_timeout_s,
                settings.consumer_max_lost_s,
            ),
            self.handle,
            stop,
            self.log,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_stats=self._on_stats,
            on_rewind=self._on_rewind,
            on_dead_letter=lambda reason: metrics.DLQ.labels(**self.labels, reason=metrics.dlq_reason(reason)).inc(),
            ready=self._ready,
        )
        self.producer = self.loop.producer
        self.store = StateStore(
            redisclient.connect(settings),
            settings.site,
            settings.state_ttl_seconds,
        )
        self.scorer = Scorer(settings.scoring_config())
        self.partition_counts: dict[str, int] = {}
        self.healthy_store = True
        self.scores = metrics.score_histogram(self.labels)
        self.latency = metrics.latency_histogram(self.labels)
        self.lag = LagTracker(self.topic, metrics.LAG, self.labels)
        self.models: ModelWatcher[ArrayForest] | None = None
        if settings.registry_detector:
            # the forest is fitted once centrally by the trainer: serve the registry's, never fit one here
            self.scorer.local_fit = False
            self.models = ModelWatcher(
                conninfo=settings.postgres_conninfo,
                redis_url=settings.redis_url,
                redis_client=redisclient.connect(settings, check=False),
                site=settings.site,
                kind=ModelKind.DETECTOR,
                component="processor",
                build=ArrayForest.from_artifact,
                poll_s=settings.model_poll_s,
                on_failed=lambda version, error: metrics.MODEL_LOAD_FAILURES.labels(
                    **self.labels, kind=ModelKind.DETECTOR.value
                ).inc(),
                log=self.log,
            )
            metrics.MODEL_VERSION.labels(**self.labels, kind=ModelKind.DETECTOR.value).set(0)

    # --- Kafka callbacks -------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.partition_counts.clear()
        self.scorer.reset()  # state of sensors that moved is reloaded from Redis on first sight

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.scorer.reset()
        self.lag.clear()

    def _on_rewind(self) -> None:
        self.scorer.reset()  # the rewound batch was not written to Redis: score it again from the stored state

    def _on_stats(self, stats_json: str) -> None:
        self.lag.on_stats(stats_json)

    # --- loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped (or the group is lost beyond the bound); then close cleanly."""
        outcome = kafka.ensure_site_topics(self.settings)
        self.log.info("topics ready", topics=outcome, group=self.settings.consumer_group)
        started = time.monotonic()
        self.scorer.compile()  # before joining the group: the first batch is not held up by numba
        self.log.info("scorer compiled", seconds=round(time.monotonic() - started, 2))
        if self.models is not None:
            self.models.start()
        try:
            self.loop.run()
        finally:
            if self.models is not None:
                self.models.close()
            self.log.info("processor stopped")

    def _swap_model(self) -> None:
        """Between batches: serve a newly promoted detector forest (loaded and verified by the watcher thread)."""
        loaded = self.models.take() if self.models is not None else None
        if loaded is not None:
            self.scorer.install_forest(loaded.model)
            metrics.MODEL_VERSION.labels(**self.labels, kind=ModelKind.DETECTOR.value).set(loaded.record.version)

    def handle(self, records: list[Record]) -> Finish:
        """Score one consumed batch and publish its enriched readings and alerts; the returned step writes Redis.

        Publish before Redis: the loop runs the Redis write only once the broker acknowledged every output, and
        commits after it. A crash before the Redis write replays the batch, which is scored and published again
        (history drops the repeats by (sensor, timestamp)); a crash after it replays a batch Redis already holds,
        which the scorer skips as seen. Either way history gets every reading once (docs/reliability.md).
        """
        started = time.perf_counter()
        self._swap_model()
        batches: list[ReadingBatch] = []
        beats: list[ProducerBeat] = []
        now = time.time()
        for record in records:
            decoded = record.value
            if isinstance(decoded, ReadingBatch):
                admitted, rejected = screen(decoded, self.settings.site, now)
                for reason, value in rejected:
                    self.loop.dead_letter(record.msg, reason, value)
                if admitted is not None:
                    batches.append(admitted)
            elif isinstance(decoded, Heartbeat):
                beats.append(
                    ProducerBeat(
                        decoded.producer, decoded.ts, now, decoded.sensors, decoded.readings_sent, decoded.rate
                    )
                )
            else:
                self.loop.dead_letter(record.msg, f"unexpected message type '{type(decoded).__name__}' on readings")
        pending, result, labels = self._score(batches, now)
        pending.beats = beats
        if result is not None and self.settings.publish_enriched:
            self._emit(result, labels)
        for alert in pending.alerts:
            kafka.produce(
                self.producer,
                self.settings.topic("alerts"),
                encode(alert),
                alert.sensor_id.encode(),
                **tracing.context_kwargs(),  # the batch span: consumers of alerts link back to it
            )

        def finish() -> None:
            self._write(pending, self._live_update(pending, now))
            metrics.observe_written(
                self.latency,
                self.labels,
                None if result is None else result.ts,
                [b.producer for b in beats],
                time.time(),
                tracing.exemplar(),
            )
            for alert in pending.alerts:
                metrics.ALERTS.labels(**self.labels, severity=alert.severity.value).inc()
            metrics.BATCH.labels(**self.labels).observe(time.perf_counter() - started, tracing.exemplar())

        return finish

    def _score(self, batches: list[ReadingBatch], now: float) -> tuple[Pending, BatchResult | None, list[str]]:
        if not batches:
            return Pending(), None, []
        ids: list[str] = []
        machines: list[str] = []
        types: list[int] = []
        ts: list[float] = []
        values: list[float] = []
        labels: list[str] = []
        for b in batches:
            offset = len(ids)
            ids.extend(b.sensor_ids)
            machines.extend(b.machines)
            types.extend(map(TYPE_CODE.__getitem__, b.types))
            ts.extend(b.ts)
            values.extend(b.values)
            labels.extend([""] * len(b.sensor_ids))
            for i, kind in zip(b.fault_index, b.fault_kind, strict=True):
                labels[offset + i] = kind.value
        table = self.scorer.table
        sensor, new = table.lookup(ids, machines, types)
        stamp_sources(table, sensor, batches)
        reset = self.store.restore(table, new)
        result = self.scorer.score(sensor, np.asarray(ts), np.asarray(values))
        pending = self.store.build(table, result, now)
        pending.reset_ids += reset
        pending.new_sensors = [(table.ids[n], SensorType(_type_name(table.type_code[n])).value) for n in new]
        pending.alerts = self._alerts(result, pending)
        metrics.READINGS.labels(**self.labels).inc(result.size)
        metrics.REPLAYS.labels(**self.labels).inc(result.skipped)
        metrics.count_energy(self.labels, result.energy_delta)
        metrics.SENSORS.labels(**self.labels).set(len(table.ids))
        if result.anomaly.any():
            kinds, counts = np.unique(result.kind[result.anomaly], return_counts=True)
            for k, c in zip(kinds.tolist(), counts.tolist(), strict=True):
                metrics.ANOMALIES.labels(**self.labels, kind=KINDS[k]).inc(c)
        self.scores.observe_many(result.score)
        return pending, result, labels

    def _alerts(self, result: BatchResult, pending: Pending) -> list[Alert]:
        """One alert per sensor whose status escalated in this batch."""
        alerts: list[Alert] = []
        by_id = {s.id: s for s in pending.states}
        for sid, old, new in pending.status_moves:
            if new <= max(old, 0):
                continue
            st = by_id[sid]
            severity = Severity.CRITICAL if new == 2 else Severity.WARNING
            alerts.append(
                Alert(
                    schema_version=SCHEMA_VERSION,
                    site=self.settings.site,
                    sensor_id=sid,
                    machine=st.machine,
                    type=st.type,
                    ts=st.ts,
                    severity=severity,
                    kind=st.kind or "deviation",
                    score=st.score,
                    failure_probability=st.failure_probability,
                    value=st.value,
                    message=(
                        f"{st.type.value} sensor {sid} on {st.machine} is {STATUSES[new].value}: "
                        f"{st.kind or 'deviation'}, failure probability {st.failure_probability:.2f}"
                    ),
                )
            )
        return alerts

    def _live_update(self, pending: Pending, now: float) -> LiveBatch:
        """The batch's message on the site's live channel (gridwatch.common.live): what the API's hub fans out."""
        changed = [
            LiveChange(id=s.id, status=s.status, value=s.value, failure_probability=s.failure_probability, kind=s.kind)
            for s in pending.states
            if s.anomaly or s.status.value != "normal"
        ][:200]
        return LiveBatch(
            ts=now,
            readings=pending.readings,
            anomalies=pending.anomalies,
            changed=changed,
            alerts=[a for a in pending.alerts if a.severity is Severity.CRITICAL][:50],
        )

    def _write(self, pending: Pending, live: LiveBatch) -> None:
        """Write to Redis, retrying with backoff while it is down; nothing is committed meanwhile."""

        def failed(exc: BaseException) -> None:
            metrics.STORE_ERRORS.labels(**self.labels).inc()
            self.healthy_store = False

        retry(
            "redis write",
            lambda: self.store.write(pending, live),
            (redis.RedisError,),
            self.stop,
            self.log,
            beat=self.loop.touch,
            on_error=failed,
        )
        self.healthy_store = True

    def _emit(self, result: BatchResult, labels: list[str]) -> None:
        """Publish the scored readings, each sensor always to the same partition so its readings stay in order."""
        table = self.scorer.table
        topic = self.settings.topic("enriched")
        if result.size == 0:
            return
        key = table.shard[result.sensor] % self._partitions(topic)
        # stable sort: within a partition the (sensor, time) order of the result is kept
        order = np.argsort(key, kind="stable")
        trace = tracing.context_kwargs()  # the batch span: history links back to it
        for run in np.split(order, np.flatnonzero(np.diff(key[order])) + 1):
            partition = int(key[run[0]])
            for start in range(0, run.size, EMIT_CHUNK):
                batch = enriched_batch(self.settings.site, table, result, run[start : start + EMIT_CHUNK], labels)
                kafka.produce(self.producer, topic, encode(batch), partition=partition, **trace)

    def _partitions(self, topic: str) -> int:
        """Partition count of a topic, looked up once per assignment (partitions are only ever raised)."""
        count = self.partition_counts.get(topic)
        if count is None:
            metadata = self.producer.list_topics(topic, timeout=10)
            count = max(1, len(metadata.topics[topic].partitions))
            self.partition_counts[topic] = count
        return count

    def _ready(self) -> bool:
        """Redis takes the writes (the loop adds: the consumer group is confirmed)."""
        return self.healthy_store and self.store.ping()


def stamp_sources(table: SensorTable, sensor: Any, batches: list[ReadingBatch]) -> None:
    """Record each batch's source on its sensors (a later batch wins), one numpy assignment per batch."""
    offset = 0
    for b in batches:
        end = offset + len(b.sensor_ids)
        table.source_code[sensor[offset:end]] = -1 if b.source is None else SOURCE_CODE[b.source]
        offset = end


def screen(batch: ReadingBatch, site: str, now: float) -> tuple[ReadingBatch | None, list[tuple[str, bytes | None]]]:
    """What of a decoded batch the processor scores, and what it dead-letters: (reason, payload or None for the
    whole message). Checks the site, the time range and each reading's physical plausibility."""
    if batch.site != site:
        return None, [(f"reading batch for site '{batch.site}' on this site's topic", None)]
    if batch.ts and (max(batch.ts) > now + MAX_CLOCK_SKEW_S or min(batch.ts) < now - MAX_AGE_S):
        # a reading from the future would make every later reading of its sensor look like a replay
        return None, [("timestamp out of range: more than 5 minutes ahead or 7 days behind", None)]
    bad = implausible(batch)
    if not bad:
        return batch, []
    # only the implausible readings go to the DLQ (as a batch of their own); the rest are scored
    rejected: list[tuple[str, bytes | None]] = [(describe_implausible(batch, bad), encode(select(batch, bad)))]
    if len(bad) == len(batch.values):
        return None, [(rejected[0][0], None)]
    skip = set(bad)
    return select(batch, [i for i in range(len(batch.values)) if i not in skip]), rejected


def enriched_batch(site: str, table: SensorTable, result: BatchResult, rows: Any, labels: list[str]) -> EnrichedBatch:
    """The enriched message of some rows of a scored batch."""
    s = result.sensor[rows]
    return EnrichedBatch(
        schema_version=SCHEMA_VERSION,
        site=site,
        sensor_ids=list(map(table.ids.__getitem__, s.tolist())),
        types=list(map(SENSOR_TYPES.__getitem__, table.type_code[s].tolist())),
        ts=result.ts[rows].tolist(),
        values=result.value[rows].tolist(),
        score=result.score[rows].round(4).tolist(),
        anomaly=result.anomaly[rows].tolist(),
        failure_probability=result.probability[rows].round(4).tolist(),
        status=list(map(STATUSES.__getitem__, result.status[rows].tolist())),
        label=list(map(labels.__getitem__, result.source[rows].tolist())),
        energy_kwh=result.energy_delta[rows].tolist(),
    )


def _type_name(code: int | np.integer[Any]) -> str:
    return SENSOR_TYPES[int(code)].value


def main(settings: ProcessorSettings) -> None:
    """Entry point for `gridwatch processor`."""
    stop = StopFlag().install()
    tracing.configure("gridwatch-processor")
    processor = Processor(settings, stop)
    probes = ProbeServer(
        settings.metrics_host, settings.metrics_port, ready=processor.loop.ready, live=processor.loop.live
    ).start()
    try:
        processor.run()
    finally:
        probes.stop()
