"""OpenTelemetry tracing, off unless OTEL_* variables ask for it; W3C trace context travels in Kafka headers.

Turned on by `OTEL_TRACES_EXPORTER` (otlp, console; "none" keeps it off) or by an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); `OTEL_SDK_DISABLED=true` wins.
Everything else (service name, resource attributes, sampler, batch sizes, headers, propagators) is read
by the SDK from the standard variables. While off, the helpers below cost one flag check.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Link, Span, SpanKind

if TYPE_CHECKING:
    from confluent_kafka import Message
    from fastapi import FastAPI

TRACER_NAME = "gridwatch"
# a processor batch links every message it consumed; the SDK's default limit (128) would drop most
DEFAULT_MAX_LINKS = 2048
_state: dict[str, bool] = {"enabled": False}
KafkaHeaders = list[tuple[str, bytes]]


def enabled() -> bool:
    """True once configure() installed an exporter in this process."""
    return _state["enabled"]


def requested_exporters(env: dict[str, str] | None = None) -> list[str]:
    """Exporter names the environment asks for; empty means tracing stays off."""
    env = dict(os.environ) if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    return [n for n in names if n != "none"]


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported here; use otlp, console or none")
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    )
    if protocol.strip() == "grpc":
        raise ValueError(
            "OTLP over gRPC is not installed in the Gridwatch image; set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf "
            "and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (4318)"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def configure(service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Install the tracer provider when the environment (or a test, via `exporter`) asks for traces.

    A test's exporter is attached with a SimpleSpanProcessor so spans are visible as soon as they end.
    Returns whether tracing is on.
    """
    names = requested_exporters()
    if exporter is None and not names:
        return enabled()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
        limits = SpanLimits() if "OTEL_SPAN_LINK_COUNT_LIMIT" in os.environ else SpanLimits(max_links=DEFAULT_MAX_LINKS)
        provider = TracerProvider(resource=Resource.create(attributes), span_limits=limits)
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        for name in names:
            provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    _state["enabled"] = True
    return True


def active_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in W3C hex of the span active in this context, None when there is none."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def exemplar() -> dict[str, str] | None:
    """An OpenMetrics exemplar ({"trace_id": ...}) for a histogram observation made inside a sampled span."""
    if not _state["enabled"]:
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid or not ctx.trace_flags.sampled:
        return None
    return {"trace_id": format(ctx.trace_id, "032x")}


def add_trace_ids(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: `trace_id` and `span_id` on every log line written while a span is active."""
    ids = active_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


def tracer() -> trace.Tracer:
    """The Gridwatch tracer of the installed provider."""
    return trace.get_tracer(TRACER_NAME)


def inject_headers() -> KafkaHeaders:
    """The current trace context as Kafka headers (traceparent, tracestate, baggage)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(key, value.encode()) for key, value in carrier.items()]


def context_kwargs() -> dict[str, Any]:
    """produce() kwargs carrying the current trace context onward (e.g. from a consume span); none while off."""
    if not _state["enabled"]:
        return {}
    return {"headers": inject_headers()}


RawHeaders = Mapping[str, str | bytes | None] | Sequence[tuple[str, str | bytes | None]] | None


def extract_headers(headers: RawHeaders) -> trace.SpanContext | None:
    """The remote span context carried in a message's headers, if it carries a valid one."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    carrier = {
        key: value.decode(errors="replace") if isinstance(value, bytes) else value
        for key, value in pairs
        if value is not None
    }
    if "traceparent" not in carrier:
        return None
    context = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    return context if context.is_valid else None


@contextmanager
def produce_span(topic: str, key: str, attributes: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """A PRODUCER span around publishing one message; yields produce() kwargs carrying its trace context.

    While tracing is off it yields no kwargs at all, so the message goes out exactly as before.
    """
    if not _state["enabled"]:
        yield {}
        return
    attrs: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": topic,
        "messaging.kafka.message.key": key,
        **(attributes or {}),
    }
    with tracer().start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attrs):
        yield {"headers": inject_headers()}


@contextmanager
def consume_span(topic: str, messages: Sequence[Message]) -> Iterator[Span | None]:
    """A CONSUMER span around processing one consumed batch, linked to the span of every message in it."""
    if not _state["enabled"]:
        yield None
        return
    links: list[Link] = []
    for msg in messages:
        context = extract_headers(msg.headers())
        if context is not None:
            links.append(
                Link(
                    context,
                    {"messaging.kafka.partition": msg.partition() or 0, "messaging.kafka.offset": msg.offset() or 0},
                )
            )
    attrs: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.batch.message_count": len(messages),
    }
    with tracer().start_as_current_span(
        f"process {topic}", kind=SpanKind.CONSUMER, links=links, attributes=attrs
    ) as span:
        yield span


def instrument_fastapi(app: FastAPI) -> None:
    """Trace every HTTP request and WebSocket session of the app (not probes or /metrics) when tracing is on."""
    if not _state["enabled"]:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics,/healthz,/readyz,/livez")
