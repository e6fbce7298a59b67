"""Prometheus metrics of the API."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LABELS = ("site", "component")
REQUESTS = Histogram(
    "gridwatch_api_request_seconds",
    "HTTP request latency by route and status",
    (*LABELS, "route", "method", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WS_CLIENTS = Gauge("gridwatch_api_websocket_clients", "Connected WebSocket clients", LABELS)
WS_MESSAGES = Counter("gridwatch_api_websocket_messages_total", "Messages sent to WebSocket clients", (*LABELS, "type"))
REDIS_ERRORS = Counter("gridwatch_api_redis_errors_total", "Requests that failed because Redis was down", LABELS)
