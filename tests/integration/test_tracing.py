"""Traces: a reading's trace across Kafka hops, and traced API requests (real Kafka, Redis, PostgreSQL).

The simulator, processor, history writer and alert engine run in this process with an in-memory span
exporter: the simulator's span for a gateway batch puts its W3C traceparent in the Kafka message's
headers, the processor's batch span links to it and puts its own context on the enriched and alert
messages it publishes, and the history writer's and alert engine's batch spans link to those.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from confluent_kafka import Consumer, Producer
from fastapi.testclient import TestClient
from gridwatch.alerting.runner import AlertEngine
from gridwatch.alerting.settings import AlertSettings
from gridwatch.api.app import create_app
from gridwatch.api.settings import ApiSettings
from gridwatch.common import kafka as gwkafka
from gridwatch.common import tracing
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import (
    SCHEMA_VERSION,
    Alert,
    EnrichedBatch,
    ReadingBatch,
    SensorType,
    Severity,
    decode,
    encode,
)
from gridwatch.common.shutdown import StopFlag
from gridwatch.history.runner import HistoryWriter
from gridwatch.history.settings import HistorySettings
from gridwatch.processor.runner import Processor
from gridwatch.processor.settings import ProcessorSettings
from gridwatch.simulator.runner import Simulator
from gridwatch.simulator.settings import SimulatorSettings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.infra.services import Kafka, Postgres, Redis
from tests.utils.workloads import wait_for

SENSORS = 40
PER_GATEWAY = 10
TICKS = 5


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only."""
    exporter = InMemorySpanExporter()
    was_enabled = tracing.enabled()
    assert tracing.configure("gridwatch-test", exporter=exporter)
    yield exporter
    tracing._state["enabled"] = was_enabled
    exporter.shutdown()


def traceparent_ids(value: str) -> tuple[int, int]:
    """(trace id, span id) of a sampled W3C traceparent."""
    _, trace_hex, span_hex, flags = value.split("-")
    assert int(flags, 16) & 1, "the trace is not sampled"
    return int(trace_hex, 16), int(span_hex, 16)


def links_to(spans: list[ReadableSpan], trace_id: int, span_id: int) -> list[ReadableSpan]:
    """The spans among these that link to the given span."""
    return [s for s in spans if any((lk.context.trace_id, lk.context.span_id) == (trace_id, span_id) for lk in s.links)]


def run_until(target: Any, stop: StopFlag, done: Callable[[], bool], what: str) -> None:
    """Run a workload's loop in a thread until `done`, then stop it cleanly."""
    worker = threading.Thread(target=target, name=what)
    worker.start()
    try:
        wait_for(done, 120, what)
    finally:
        stop.stop()
        worker.join(60)
    assert not worker.is_alive()


def first_traced_message(kafka: Kafka, topic: str, kind: type[Any]) -> tuple[Any, str, int, int]:
    """The first message of `kind` on the topic: decoded, with its traceparent header, partition and offset."""
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{topic}.check", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    try:
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is None or msg.error() is not None:
                continue
            message = decode(msg.value() or b"")
            if isinstance(message, kind):
                traceparent = dict(msg.headers() or []).get("traceparent")
                assert isinstance(traceparent, bytes), f"a {kind.__name__} message without trace context"
                return message, traceparent.decode(), msg.partition() or 0, msg.offset() or 0
    finally:
        consumer.close()
    raise AssertionError(f"no {kind.__name__} message on {topic}")


def of_kind(exporter: InMemorySpanExporter, kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is kind]


def test_a_readings_trace_follows_it_across_kafka(
    spans: InMemorySpanExporter,
    kafka: Kafka,
    redis_server: Redis,
    redis_client: redis.Redis,
    postgres: Postgres,
    site: str,
) -> None:
    sim_settings = SimulatorSettings(
        site=site,
        kafka_bootstrap=kafka.bootstrap,
        partitions=2,
        sensors=SENSORS,
        sensors_per_gateway=PER_GATEWAY,
        rate=2000.0,
        max_ticks=TICKS,
        metrics_port=0,
    )
    Simulator(sim_settings, StopFlag()).run()
    produced = of_kind(spans, SpanKind.PRODUCER)
    assert len(produced) == TICKS * SENSORS // PER_GATEWAY

    stop = StopFlag()
    proc_settings = ProcessorSettings(
        site=site, kafka_bootstrap=kafka.bootstrap, redis_url=redis_server.url, partitions=2, metrics_port=0
    )
    processor = Processor(proc_settings, stop)
    run_until(
        processor.run,
        stop,
        lambda: int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) >= SENSORS * TICKS,
        "every reading processed",
    )

    batch, traceparent, partition, offset = first_traced_message(kafka, f"{site}.readings", ReadingBatch)
    _, trace_hex, span_hex, flags = traceparent.split("-")
    assert int(flags, 16) & 1, "the reading's trace is not sampled"
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)

    # simulator side: the span of exactly this gateway batch
    (sent,) = [s for s in produced if s.context is not None and s.context.trace_id == trace_id]
    assert sent.context is not None and sent.context.span_id == span_id
    assert sent.name == f"send {site}.readings"
    assert sent.attributes is not None
    assert sent.attributes["gridwatch.gateway"] == batch.gateway
    assert sent.attributes["gridwatch.seq"] == batch.seq
    assert sent.attributes["gridwatch.readings"] == len(batch.sensor_ids)

    # processor side: a batch span links to it, at the message's partition and offset
    consumed = of_kind(spans, SpanKind.CONSUMER)
    assert consumed and all(s.name == f"process {site}.readings" for s in consumed)
    linking = [
        (s, link)
        for s in consumed
        for link in s.links
        if link.context.trace_id == trace_id and link.context.span_id == span_id
    ]
    assert len(linking) >= 1, "no processor batch span links to the reading's trace"
    _, link = linking[0]
    assert link.attributes is not None
    assert (link.attributes["messaging.kafka.partition"], link.attributes["messaging.kafka.offset"]) == (
        partition,
        offset,
    )
    # every produced batch was linked by some processed batch
    linked = {(lk.context.trace_id, lk.context.span_id) for s in consumed for lk in s.links}
    assert {(s.context.trace_id, s.context.span_id) for s in produced if s.context is not None} <= linked
    # and the reading itself reached Redis
    assert redis_client.hget(Keys(site).sensors, batch.sensor_ids[0]) is not None

    # next hop: the enriched message carries the processor's batch span, and the history writer links to it
    enriched, enriched_parent, _, _ = first_traced_message(kafka, f"{site}.enriched", EnrichedBatch)
    trace_id2, span_id2 = traceparent_ids(enriched_parent)
    (emitter,) = [s for s in consumed if s.context is not None and s.context.span_id == span_id2]
    assert emitter.context is not None and emitter.context.trace_id == trace_id2
    stop = StopFlag()
    history = HistoryWriter(
        HistorySettings(
            site=site,
            kafka_bootstrap=kafka.bootstrap,
            redis_url=redis_server.url,
            postgres_dsn=postgres.dsn,
            partitions=2,
            metrics_port=0,
        ),
        stop,
    )
    run_until(
        history.run,
        stop,
        lambda: links_to(of_kind(spans, SpanKind.CONSUMER), trace_id2, span_id2) != [],
        "a history batch span linking to the processor's",
    )
    writers = links_to(of_kind(spans, SpanKind.CONSUMER), trace_id2, span_id2)
    assert writers and all(w.name == f"process {site}.enriched" for w in writers)
    assert enriched.sensor_ids and enriched.energy_kwh


def test_the_alert_engine_links_to_the_span_that_raised_the_alert(
    spans: InMemorySpanExporter, kafka: Kafka, redis_server: Redis, postgres: Postgres, site: str
) -> None:
    settings = AlertSettings(
        site=site,
        kafka_bootstrap=kafka.bootstrap,
        redis_url=redis_server.url,
        postgres_dsn=postgres.dsn,
        metrics_port=0,
    )
    gwkafka.ensure_site_topics(settings)
    alert = Alert(
        schema_version=SCHEMA_VERSION, site=site, sensor_id="m1-temperature", machine="m1",
        type=SensorType.TEMPERATURE, ts=time.time(), severity=Severity.CRITICAL, kind="overheat", score=0.9,
        failure_probability=0.9, value=120.0, message="m1 overheats",
    )  # fmt: skip
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    with tracing.produce_span(f"{site}.alerts", alert.sensor_id) as kwargs:
        producer.produce(f"{site}.alerts", encode(alert), alert.sensor_id.encode(), **kwargs)
    assert producer.flush(30) == 0
    (sent,) = of_kind(spans, SpanKind.PRODUCER)
    assert sent.context is not None
    stop = StopFlag()
    engine = AlertEngine(settings, stop)
    run_until(
        engine.run,
        stop,
        lambda: links_to(of_kind(spans, SpanKind.CONSUMER), sent.context.trace_id, sent.context.span_id) != [],
        "an alert engine batch span linking to the alert's",
    )
    (handled,) = links_to(of_kind(spans, SpanKind.CONSUMER), sent.context.trace_id, sent.context.span_id)
    assert handled.name == f"process {site}.alerts"


def test_api_requests_continue_the_callers_trace(spans: InMemorySpanExporter, redis_server: Redis, site: str) -> None:
    trace_hex = "4bf92f3577b34da6a3ce929d0e0e4736"
    settings = ApiSettings(site=site, redis_url=redis_server.url)
    with TestClient(create_app(settings)) as client:
        listed = client.get("/api/sensors", headers={"traceparent": f"00-{trace_hex}-00f067aa0ba902b7-01"})
        assert listed.status_code == 200
        assert client.get("/metrics").status_code == 200
    server = [s for s in of_kind(spans, SpanKind.SERVER) if s.context is not None]
    (request,) = [s for s in server if s.context is not None and s.context.trace_id == int(trace_hex, 16)]
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/api/sensors"
    assert request.parent is not None and request.parent.span_id == 0x00F067AA0BA902B7
    assert not [s for s in server if s.attributes and s.attributes.get("http.route") == "/metrics"]
