"""A real Prometheus scrapes a workload's /metrics as OpenMetrics and stores the trace-id exemplars of its latency
histograms (with exemplar storage on), so Grafana can jump from a slow batch to its trace."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest
from gridwatch.common import tracing
from gridwatch.common.probes import ProbeServer
from gridwatch.local.prometheus import Prometheus
from gridwatch.processor import metrics as processor_metrics
from opentelemetry.sdk.trace import TracerProvider

from tests.e2e.cluster import wait_until


class ExemplarPrometheus(Prometheus):
    """Debian's Prometheus with exemplar storage turned on."""

    def _command(self) -> list[str]:
        return [*super()._command(), "--enable-feature=exemplar-storage"]


def test_prometheus_stores_the_trace_id_of_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tracing._state, "enabled", True)
    labels = processor_metrics.init("exemplars")
    with TracerProvider().get_tracer("t").start_as_current_span("process exemplars.readings") as span:
        processor_metrics.BATCH.labels(**labels).observe(0.042, tracing.exemplar())
    trace_id = format(span.get_span_context().trace_id, "032x")

    server = ProbeServer("127.0.0.1", 0, ready=lambda: True).start()
    prometheus = ExemplarPrometheus(tmp_path / "prometheus", targets={"processor": [f"127.0.0.1:{server.port}"]})
    prometheus.start()
    try:
        prometheus.wait_for_targets(timeout=120, healthy=True)  # parsed as OpenMetrics, which Prometheus asks for
        query = 'gridwatch_processor_batch_seconds_bucket{site="exemplars"}'

        def stored() -> list[dict[str, str]] | None:
            now = time.time()
            params = urllib.parse.urlencode({"query": query, "start": now - 300, "end": now + 60})
            status, body = prometheus._get(f"/api/v1/query_exemplars?{params}", timeout=5)
            found = [e["labels"] for s in json.loads(body).get("data") or [] for e in s["exemplars"]]
            return found if status == 200 and found else None

        exemplars = wait_until(stored, 60, "Prometheus to store the batch histogram's exemplar")
        assert {"trace_id": trace_id} in exemplars
    finally:
        prometheus.stop()
        server.stop()
