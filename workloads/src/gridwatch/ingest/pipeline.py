"""The one path every transport shares: declared sensors, edge rejections to the DLQ, keyed reading batches to
Kafka with a callback on delivery, back-pressure, and a heartbeat per live gateway."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import KafkaError, Message, Producer

from gridwatch.common import kafka, tracing
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, ReadingBatch, ReadingSource, encode
from gridwatch.ingest import metrics
from gridwatch.ingest.payloads import Parsed, Problem, SensorMeta
from gridwatch.ingest.settings import IngestSettings

log = structlog.get_logger(__name__)
Done = Callable[[str | None], None]  # called once, from the producer's poll thread, with None or the error


class Backpressure(RuntimeError):
    """Kafka is not keeping up: the caller should answer 429 / not acknowledge, and the device retry."""

    retry_after_s = 1


@dataclass
class GatewayStats:
    """What the ingest saw of one gateway, for heartbeats and the Devices view."""

    gateway: str
    transport: str
    first_seen: float
    last_seen: float = 0.0
    last_seen_mono: float = 0.0
    readings: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    last_reason: str = ""
    sensors: set[str] = field(default_factory=set)
    rate: float = 0.0
    window_start: float = 0.0
    window_readings: int = 0

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "gateway": self.gateway,
            "transport": self.transport,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "readings": self.readings,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.reasons),
            "last_rejection": self.last_reason or None,
            "sensors": len(self.sensors),
            "rate": round(self.rate, 3),
        }


class Pipeline:
    """Owns the Kafka producer, its poll thread and the per-gateway state."""

    def __init__(self, settings: IngestSettings, client_id: str | None = None) -> None:
        self.settings = settings
        self.labels = metrics.init(settings.site)
        self.producer = Producer(
            kafka.producer_config(
                settings.kafka_bootstrap,
                client_id or f"ingest@{socket.gethostname()}",
                **{"message.timeout.ms": 120_000},
            )
        )
        self.readings_topic = settings.topic("readings")
        self.dlq_topic = settings.topic("dlq")
        self.catalog: dict[str, SensorMeta] = {}
        self.on_declare: Callable[[str, list[SensorMeta]], None] | None = None
        self.gateways: dict[str, GatewayStats] = {}
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self.delivered_once = False
        self.started = False

    # -- lifecycle
    def start(self) -> Pipeline:
        """Create the site's topics and start serving delivery callbacks and heartbeats."""
        outcome = kafka.ensure_site_topics(self.settings)
        log.info("topics ready", topics=outcome)
        self._thread.start()
        self.started = True
        return self

    def close(self, timeout: float = 30.0) -> int:
        """Send final heartbeats, stop the poll thread and flush; returns messages left undelivered."""
        self._heartbeats(time.monotonic(), force=True)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        remaining = int(self.producer.flush(timeout))
        log.info("ingest pipeline closed", undelivered=remaining)
        return remaining

    @property
    def inflight(self) -> int:
        """Messages produced and not yet acknowledged (or failed)."""
        return len(self.producer)

    def _poll_loop(self) -> None:
        next_beat = time.monotonic()
        while not self._stop.is_set():
            self.producer.poll(0.05)
            now = time.monotonic()
            metrics.INFLIGHT.labels(**self.labels).set(self.inflight)
            if now >= next_beat:
                self._heartbeats(now)
                next_beat = now + self.settings.heartbeat_interval_s

    # -- sensors
    def lookup(self, sensor_id: str) -> SensorMeta | None:
        """Metadata a gateway declared for a sensor, if any."""
        return self.catalog.get(sensor_id)

    def declare(self, gateway: str, metas: list[SensorMeta]) -> None:
        """Remember what a gateway declared (and hand it to the registry, when one is attached)."""
        if not metas:
            return
        for meta in metas:
            self.catalog[meta.sensor_id] = meta
        if self.on_declare is not None:
            self.on_declare(gateway, metas)

    # -- the path
    def _stats(self, gateway: str, transport: str) -> GatewayStats:
        stats = self.gateways.get(gateway)
        if stats is None:
            stats = self.gateways[gateway] = GatewayStats(gateway, transport, time.time())
        stats.transport = transport
        stats.last_seen = time.time()
        stats.last_seen_mono = time.monotonic()
        return stats

    def check_room(self, transport: str) -> None:
        """Raise Backpressure when Kafka is behind by more than the in-flight budget."""
        if self.inflight >= self.settings.max_inflight_messages:
            metrics.BACKPRESSURE.labels(**self.labels, transport=transport).inc()
            raise Backpressure(f"{self.inflight} Kafka messages awaiting delivery")

    def submit(
        self, gateway: str, transport: str, parsed: Parsed, done: Done, source: ReadingSource | None = None
    ) -> None:
        """Produce the accepted readings (and the refused ones to the DLQ); `done` runs once all are delivered.

        `source` is stamped on the batches (default: the transport's, http or mqtt; replay says so itself).

        Raises Backpressure before producing anything when Kafka is behind, or when the local queue fills midway
        (then the part already produced may still arrive: a retry is a harmless replay for the processor).
        """
        self.check_room(transport)
        stamp = source if source is not None else ReadingSource(transport)
        with self._lock:
            stats = self._stats(gateway, transport)
            self.declare(gateway, parsed.declared)
            chunks: list[ReadingBatch] = []
            step = self.settings.max_readings_per_message
            for start in range(0, parsed.size, step):
                seq = self._seq.get(gateway, 0)
                self._seq[gateway] = seq + 1
                end = start + step
                chunks.append(
                    ReadingBatch(
                        schema_version=SCHEMA_VERSION,
                        site=self.settings.site,
                        gateway=gateway,
                        seq=seq,
                        sensor_ids=parsed.sensor_ids[start:end],
                        machines=parsed.machines[start:end],
                        types=parsed.types[start:end],
                        ts=parsed.ts[start:end],
                        values=parsed.values[start:end],
                        source=stamp,
                    )
                )
        waiting = [len(chunks) + (1 if parsed.rejected_total else 0)]
        errors: list[str] = []
        done_lock = threading.Lock()

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                errors.append(str(err))
                metrics.DELIVERY_ERRORS.labels(**self.labels).inc()
            elif msg.topic() == self.readings_topic:
                self.delivered_once = True
            with done_lock:
                waiting[0] -= 1
                last = waiting[0] == 0
            if last:
                done(errors[0] if errors else None)

        if waiting[0] == 0:
            done(None)
            return
        try:
            if parsed.rejected_total:
                self._dead_letter_readings(gateway, transport, parsed.rejected, parsed.rejected_total, delivered)
                self._count_rejections(stats, transport, parsed.rejected, parsed.rejected_total)
            for batch in chunks:
                attrs = {"gridwatch.gateway": gateway, "gridwatch.seq": batch.seq, "gridwatch.readings": len(batch.ts)}
                with tracing.produce_span(self.readings_topic, gateway, attrs) as trace_kwargs:
                    self.producer.produce(
                        self.readings_topic, encode(batch), gateway.encode(), on_delivery=delivered, **trace_kwargs
                    )
        except BufferError as exc:
            metrics.BACKPRESSURE.labels(**self.labels, transport=transport).inc()
            raise Backpressure("the Kafka producer queue is full") from exc
        self.producer.poll(0)
        metrics.READINGS.labels(**self.labels, transport=transport).inc(parsed.size)
        with self._lock:
            stats.readings += parsed.size
            stats.window_readings += parsed.size
            stats.sensors.update(set(parsed.sensor_ids))

    def _count_rejections(self, stats: GatewayStats, transport: str, problems: list[Problem], total: int) -> None:
        stats.rejected += total
        for problem in problems:
            label = metrics.reason_class(problem.reason)
            stats.reasons[label] += 1
            metrics.REJECTED.labels(**self.labels, transport=transport, reason=label).inc()
        if problems:
            stats.last_reason = problems[-1].reason

    def _dead_letter_readings(
        self, gateway: str, transport: str, problems: list[Problem], total: int, on_delivery: Any
    ) -> None:
        body = json.dumps({"gateway": gateway, "transport": transport, "readings": [p.to_dict() for p in problems]})
        self._produce_dlq(
            gateway, transport, f"{total} readings refused: {problems[0].reason}", body.encode(), on_delivery
        )

    def reject(
        self, gateway: str, transport: str, body: bytes, reason: str, problems: list[Problem], done: Done | None = None
    ) -> None:
        """A request refused as a whole: its body goes to the DLQ with the reason; `done` runs on delivery."""
        with self._lock:
            stats = self._stats(gateway, transport)
            self._count_rejections(stats, transport, problems or [Problem("$", reason)], max(1, len(problems)))

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if done is not None:
                done(None if err is None else str(err))

        try:
            self._produce_dlq(gateway, transport, reason, body[:1_000_000], delivered)
        except BufferError:
            log.warning("DLQ write dropped: the Kafka producer queue is full", gateway=gateway, reason=reason)
            if done is not None:
                done("the Kafka producer queue is full")

    def _produce_dlq(self, gateway: str, transport: str, reason: str, value: bytes, on_delivery: Any) -> None:
        headers = [
            ("gridwatch.dlq.reason", reason.encode()[:4000]),
            ("gridwatch.dlq.origin", b"ingest"),
            ("gridwatch.dlq.gateway", gateway.encode()),
            ("gridwatch.dlq.transport", transport.encode()),
            ("gridwatch.dlq.timestamp", str(int(time.time() * 1000)).encode()),
        ]
        kwargs: dict[str, Any] = {"headers": headers}
        if on_delivery is not None:
            kwargs["on_delivery"] = on_delivery
        self.producer.produce(self.dlq_topic, value, gateway.encode(), **kwargs)
        metrics.DLQ.labels(**self.labels).inc()

    # -- liveness
    def _heartbeats(self, now: float, force: bool = False) -> None:
        with self._lock:
            live = [s for s in self.gateways.values() if now - s.last_seen_mono <= self.settings.gateway_timeout_s]
            for stats in live:
                span = now - stats.window_start
                if span >= 2.0 or force:
                    stats.rate = stats.window_readings / span if stats.window_start and span > 0 else 0.0
                    stats.window_start, stats.window_readings = now, 0
        metrics.GATEWAYS.labels(**self.labels).set(len(live))
        for stats in live:
            beat = Heartbeat(
                schema_version=SCHEMA_VERSION,
                site=self.settings.site,
                producer=stats.gateway,
                ts=time.time(),
                sensors=len(stats.sensors),
                readings_sent=stats.readings,
                rate=stats.rate,
            )
            try:
                self.producer.produce(self.readings_topic, encode(beat), stats.gateway.encode())
            except BufferError:
                log.warning("heartbeat skipped: the Kafka producer queue is full", gateway=stats.gateway)

    def restore(self, rows: list[dict[str, Any]]) -> None:
        """Continue the counters a previous process of this replica wrote (see Registry.load_gateways)."""
        with self._lock:
            for r in rows:
                if r["gateway"] in self.gateways:
                    continue
                self.gateways[r["gateway"]] = GatewayStats(
                    r["gateway"],
                    r["transport"],
                    r["first_seen"],
                    last_seen=r["last_seen"],
                    readings=r["readings"],
                    rejected=r["rejected"],
                    reasons=Counter(r["rejected_by_reason"]),
                    last_reason=r["last_rejection"],
                )

    def snapshot(self) -> list[dict[str, Any]]:
        """Every gateway seen since start, most recent first."""
        with self._lock:
            rows = [s.snapshot() for s in self.gateways.values()]
        return sorted(rows, key=lambda r: -float(r["last_seen"]))
