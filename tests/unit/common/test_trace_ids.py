"""trace_id in JSON logs while a span is active, and trace-id exemplars for histogram observations."""

from __future__ import annotations

import json

import pytest
from gridwatch.common import tracing
from gridwatch.common.logging import configure_logging
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

PROVIDER = TracerProvider()


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(capsys: pytest.CaptureFixture[str]) -> None:
    log = configure_logging("INFO", site="t", component="test")
    log.info("outside")
    with PROVIDER.get_tracer("t").start_as_current_span("batch") as span:
        log.info("inside")
        ctx = span.get_span_context()
    outside, inside = lines(capsys.readouterr().err)[-2:]
    assert outside["event"] == "outside" and "trace_id" not in outside
    assert inside["event"] == "inside"
    assert inside["trace_id"] == format(ctx.trace_id, "032x")
    assert inside["span_id"] == format(ctx.span_id, "016x")


def test_exemplars_only_inside_a_sampled_span_while_tracing_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = PROVIDER.get_tracer("t")
    with tracer.start_as_current_span("x"):
        assert tracing.exemplar() is None  # tracing off: no exemplar even with a span
    monkeypatch.setitem(tracing._state, "enabled", True)
    assert tracing.exemplar() is None  # no span
    with tracer.start_as_current_span("x") as span:
        assert tracing.exemplar() == {"trace_id": format(span.get_span_context().trace_id, "032x")}
    with TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_as_current_span("unsampled"):
        assert tracing.exemplar() is None
