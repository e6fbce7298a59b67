"""A small HTTP server for /metrics, /healthz and /readyz in workloads that are not web apps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry

from gridwatch.common.metrics import exposition


class ProbeServer:
    """Serves Prometheus metrics and health probes on a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        ready: Callable[[], bool],
        registry: CollectorRegistry = REGISTRY,
        live: Callable[[], bool] | None = None,
    ) -> None:
        self._ready = ready
        self._live = live
        self._registry = registry
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="probes", daemon=True)

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return int(self._server.server_address[1])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, *exposition(self.headers.get("Accept"), outer._registry))
                elif path in ("/healthz", "/health", "/livez"):
                    ok = outer._live is None or outer._live()
                    body = b'{"status":"ok"}' if ok else b'{"status":"stalled"}'
                    self._send(200 if ok else 503, body, "application/json")
                elif path == "/readyz":
                    ok = outer._ready()
                    body = b'{"status":"ready"}' if ok else b'{"status":"not ready"}'
                    self._send(200 if ok else 503, body, "application/json")
                else:
                    self._send(404, b'{"detail":"not found"}', "application/json")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def start(self) -> ProbeServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
