"""Plain ASGI middleware (no per-request task or body copy): metrics, security headers and a per-client rate limit."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridwatch.api import metrics
from gridwatch.api.contract import Problem
from gridwatch.api.openapi import PROBLEM_JSON
from gridwatch.common import tracing

# Every router is mounted under one of these (routes.mount); the route's own path is relative to it.
MOUNT_PREFIXES = ("/api/v1", "/api", "")
UNLIMITED = frozenset({"/livez", "/readyz", "/metrics"})  # probes and the scraper are never throttled
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


def route_template(scope: Scope) -> str:
    """The matched route's path template with its mount prefix, so metrics get one series per route, not per id."""
    route = scope.get("route")
    path: str = scope.get("path", "")
    if route is None:
        return "unmatched"
    template: str = getattr(route, "path", "")
    regex = getattr(route, "path_regex", None)
    for prefix in MOUNT_PREFIXES:
        if path.startswith(prefix) and regex is not None and regex.match(path[len(prefix) :]):
            return prefix + template
    return template or "unmatched"


class Observe:
    """Request latency by route template, method and status, and the security headers on every response."""

    def __init__(self, app: ASGIApp, labels: dict[str, str]) -> None:
        self.app = app
        self.labels = labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if scope.get("path") != "/metrics":
                metrics.REQUESTS.labels(
                    **self.labels, route=route_template(scope), method=scope["method"], status=str(status)
                ).observe(time.perf_counter() - started, tracing.exemplar())


class RateLimit:
    """A token bucket per client address: `rate` requests/s sustained, `burst` at once; 429 problem+json beyond."""

    def __init__(self, app: ASGIApp, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.app = app
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._body = msgspec.json.encode(
            Problem(title="Too Many Requests", status=429, detail="rate limit exceeded; retry after a second")
        )

    def allow(self, client: str, now: float) -> bool:
        """Take a token from the client's bucket; False when it is empty."""
        tokens, at = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if allowed else tokens, now)  # most recently seen last
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0 or scope.get("path") in UNLIMITED:
            await self.app(scope, receive, send)
            return
        client: Any = scope.get("client")
        if self.allow(client[0] if client else "", time.monotonic()):
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(self._body)).encode()),
            (b"retry-after", b"1"),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": self._body})
