"""Traces: a reading's trace id on both sides of Kafka, and traced API requests (real Kafka and Redis).

The simulator and the processor run in this process with an in-memory span exporter: the simulator's
span for a gateway batch puts its W3C traceparent in the Kafka message's headers, and the processor's
batch span links to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis
from confluent_kafka import Consumer
from fastapi.testclient import TestClient
from gridwatch.api.app import create_app
from gridwatch.api.settings import ApiSettings
from gridwatch.common import tracing
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import ReadingBatch, decode
from gridwatch.common.shutdown import StopFlag
from gridwatch.processor.runner import Processor
from gridwatch.processor.settings import ProcessorSettings
from gridwatch.simulator.runner import Simulator
from gridwatch.simulator.settings import SimulatorSettings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.infra.services import Kafka, Redis
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


def first_reading_message(kafka: Kafka, topic: str) -> tuple[ReadingBatch, str, int, int]:
    """The first gateway batch consumed from the topic, with its traceparent header, partition and offset."""
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{topic}.check", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    try:
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is None or msg.error() is not None:
                continue
            batch = decode(msg.value() or b"")
            if isinstance(batch, ReadingBatch):
                headers = dict(msg.headers() or [])
                traceparent = headers["traceparent"]
                assert isinstance(traceparent, bytes)
                return batch, traceparent.decode(), msg.partition() or 0, msg.offset() or 0
    finally:
        consumer.close()
    raise AssertionError(f"no reading batch on {topic}")


def of_kind(exporter: InMemorySpanExporter, kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is kind]


def test_a_readings_trace_id_is_on_both_sides_of_kafka(
    spans: InMemorySpanExporter, kafka: Kafka, redis_server: Redis, redis_client: redis.Redis, site: str
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
    worker = threading.Thread(target=processor.run, name="processor")
    worker.start()
    try:
        wait_for(
            lambda: int(redis_client.hget(Keys(site).aggregates, "readings_total") or 0) >= SENSORS * TICKS,
            120,
            "every reading processed",
        )
    finally:
        stop.stop()
        worker.join(60)
    assert not worker.is_alive()

    batch, traceparent, partition, offset = first_reading_message(kafka, f"{site}.readings")
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
