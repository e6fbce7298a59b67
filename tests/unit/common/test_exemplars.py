"""/metrics answers OpenMetrics (with trace-id exemplars on latency histograms) to a scraper that asks for it."""

from __future__ import annotations

import urllib.request

import pytest
from gridwatch.common import tracing
from gridwatch.common.metrics import exposition
from gridwatch.common.probes import ProbeServer
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Histogram

OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def test_a_histogram_observed_in_a_span_carries_its_trace_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tracing._state, "enabled", True)
    registry = CollectorRegistry()
    latency = Histogram("x_batch_seconds", "x", registry=registry, buckets=(0.1, 1.0))
    with TracerProvider().get_tracer("t").start_as_current_span("batch") as span:
        latency.observe(0.05, tracing.exemplar())
    trace_id = format(span.get_span_context().trace_id, "032x")

    body, content_type = exposition(OPENMETRICS, registry)
    assert content_type.startswith("application/openmetrics-text")
    (bucket,) = [line for line in body.decode().splitlines() if line.startswith('x_batch_seconds_bucket{le="0.1"}')]
    assert f'# {{trace_id="{trace_id}"}} 0.05' in bucket
    assert body.decode().rstrip().endswith("# EOF")

    text, plain = exposition(None, registry)  # the Prometheus text format has no exemplars
    assert plain.startswith("text/plain")
    assert trace_id not in text.decode()


def test_the_probe_server_negotiates_the_format() -> None:
    registry = CollectorRegistry()
    Histogram("y_seconds", "y", registry=registry).observe(1.0)
    server = ProbeServer("127.0.0.1", 0, ready=lambda: True, registry=registry)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        request = urllib.request.Request(url, headers={"Accept": OPENMETRICS})
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.headers["Content-Type"].startswith("application/openmetrics-text")
            assert r.read().decode().rstrip().endswith("# EOF")
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/plain")
    finally:
        server.stop()


def test_a_bulk_histogram_keeps_the_batch_trace_on_its_slowest_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from gridwatch.common.bulkhist import BulkHistogram

    monkeypatch.setitem(tracing._state, "enabled", True)
    registry = CollectorRegistry()
    latency = BulkHistogram("x_reading_seconds", "x", {"site": "s"}, (0.1, 1.0), registry=registry)
    latency.observe_many(np.array([0.02, 0.03]))  # no span: no exemplar anywhere
    assert "trace_id" not in exposition(OPENMETRICS, registry)[0].decode()
    with TracerProvider().get_tracer("t").start_as_current_span("batch") as span:
        latency.observe_many(np.array([0.05, 0.4, 0.2]), tracing.exemplar())
    trace_id = format(span.get_span_context().trace_id, "032x")

    lines = exposition(OPENMETRICS, registry)[0].decode().splitlines()
    (slow,) = [line for line in lines if line.startswith('x_reading_seconds_bucket{le="1.0",site="s"}')]
    assert slow.startswith('x_reading_seconds_bucket{le="1.0",site="s"} 5.0 # ')
    assert f'{{trace_id="{trace_id}"}} 0.4' in slow
    (fast,) = [line for line in lines if line.startswith('x_reading_seconds_bucket{le="0.1",site="s"}')]
    assert "#" not in fast  # only the bucket of the batch's largest value carries it
    assert trace_id not in exposition(None, registry)[0].decode()
