"""Prometheus metrics of the ingest workload."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from gridwatch.common.metrics import LABELS, announce

TRANSPORT = (*LABELS, "transport")
READINGS = Counter("gridwatch_ingest_readings_total", "Readings delivered to Kafka", TRANSPORT)
REJECTED = Counter(
    "gridwatch_ingest_rejected_readings_total", "Readings refused at the edge (sent to the DLQ)", (*TRANSPORT, "reason")
)
REQUESTS = Counter("gridwatch_ingest_requests_total", "Requests or MQTT messages by outcome", (*TRANSPORT, "code"))
REQUEST_SECONDS = Histogram(
    "gridwatch_ingest_request_seconds",
    "Receipt to Kafka acknowledgement of one request or MQTT message",
    TRANSPORT,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BACKPRESSURE = Counter(
    "gridwatch_ingest_backpressure_total", "Requests refused because Kafka is not keeping up", TRANSPORT
)
DLQ = Counter("gridwatch_ingest_dlq_messages_total", "Messages written to the DLQ", LABELS)
DELIVERY_ERRORS = Counter("gridwatch_ingest_delivery_errors_total", "Kafka messages that failed delivery", LABELS)
INFLIGHT = Gauge("gridwatch_ingest_inflight_messages", "Kafka messages produced and not yet acknowledged", LABELS)
GATEWAYS = Gauge("gridwatch_ingest_gateways", "Gateways heard from within the gateway timeout", LABELS)
TOKEN_RELOADS = Counter("gridwatch_ingest_token_reloads_total", "Times the tokens file was (re)loaded", LABELS)


def reason_class(reason: str) -> str:
    """A small fixed label for a rejection reason (the full text goes to the DLQ)."""
    for key in ("plausible", "timestamp", "type", "unit", "JSON", "msgpack", "number", "key", "expected"):
        if key in reason:
            return {"JSON": "decode", "msgpack": "decode", "expected": "shape", "key": "shape"}.get(key, key)
    return "other"


def init(site: str) -> dict[str, str]:
    """Create every series at its starting value."""
    labels = announce(site, "ingest")
    for transport in ("http", "mqtt"):
        READINGS.labels(**labels, transport=transport)
        BACKPRESSURE.labels(**labels, transport=transport)
    for counter in (DLQ, DELIVERY_ERRORS, TOKEN_RELOADS):
        counter.labels(**labels)
    INFLIGHT.labels(**labels).set(0)
    GATEWAYS.labels(**labels).set(0)
    return labels
