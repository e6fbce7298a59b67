"""Grid ingestor against a local server replaying the Carbon Intensity and ENTSO-E formats, on real Kafka."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from confluent_kafka import Consumer
from gridwatch.common.schema import GridMetric, GridSignal, decode_grid

from tests.infra.services import Kafka
from tests.utils import grid_docs
from tests.utils.workloads import Workload, free_port, wait_for


class Replay:
    """Answers like the two APIs: the first /intensity is rate-limited, the next fails, the first A44 has no data."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.tokens: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                key = url.path if url.path != "/api" else f"/api:{query['documentType'][0]}"
                outer.hits[key] += 1
                n = outer.hits[key]
                if key == "/intensity" and n == 1:
                    return self._send(
                        429, b'{"error": {"code": "429", "message": "Too Many Requests"}}', {"Retry-After": "1"}
                    )
                if key == "/intensity" and n == 2:
                    return self._send(500, b"Internal Server Error")
                if key == "/intensity":
                    return self._send(200, grid_docs.INTENSITY)
                if key.startswith("/intensity/") and key.endswith("/fw24h"):  # the 24-hour forecast
                    return self._send(200, grid_docs.INTENSITY)
                if key == "/generation":
                    return self._send(200, grid_docs.GENERATION)
                outer.tokens.update(query.get("securityToken", []))
                if key == "/api:A44" and n == 1:
                    return self._send(400, grid_docs.acknowledgement(), ctype="application/xml")
                body = grid_docs.prices([80.5, 75.0, 91.25]) if key == "/api:A44" else grid_docs.load([31000, 30500])
                return self._send(200, body, ctype="application/xml")

            def _send(
                self, code: int, body: bytes, headers: dict[str, str] | None = None, ctype: str = "application/json"
            ) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def replay() -> Iterator[Replay]:
    server = Replay()
    yield server
    server.server.shutdown()


def signals(kafka: Kafka, topic: str, until: int) -> list[GridSignal]:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"g{time.time()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out: list[GridSignal] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < until and time.monotonic() < deadline:
            out.extend(decode_grid(m.value() or b"") for m in consumer.consume(100, 0.5) if not m.error())
    finally:
        consumer.close()
    return out


def test_polls_both_formats_with_retries_and_is_started_and_stopped(
    base_env: dict[str, str], kafka: Kafka, replay: Replay, site: str, tmp_path: Path
) -> None:
    port = free_port()
    sources = [
        {"name": "gb", "adapter": "gb-carbon-intensity", "url": replay.url, "interval_s": 2},
        {
            "name": "be",
            "adapter": "entsoe",
            "url": replay.url,
            "interval_s": 2,
            "region": "10YBE----------2",
            "token": "tok",
        },
    ]
    grid = Workload(
        "grid",
        {
            **base_env,
            "GRIDWATCH_GRID_HOST": "127.0.0.1",
            "GRIDWATCH_GRID_PORT": str(port),
            "GRIDWATCH_GRID_SOURCES": json.dumps(sources),
            "GRIDWATCH_GRID_TOKEN": "secret",
            "GRIDWATCH_GRID_BACKOFF_S": "0.2",
        },
        tmp_path,
    ).start()
    stream = f"http://127.0.0.1:{port}/api/v1/ingest/grid/stream"
    auth = {"Authorization": "Bearer secret"}
    try:
        wait_for(lambda: httpx.get(stream).status_code == 200, 60, "grid ingestor up", logs=(grid,))
        assert httpx.get(stream).json()["running"] is False
        assert httpx.post(stream).status_code == 401
        assert httpx.post(stream, headers={"Authorization": "Bearer nope"}).status_code == 403
        assert httpx.post(stream, json={"sources": ["nowhere"]}, headers=auth).status_code == 404
        started = httpx.post(stream, headers=auth)
        assert started.status_code == 202 and started.json()["running"] is True

        got = signals(kafka, f"{site}.grid", until=10)
        by_metric = Counter(s.metric for s in got)
        assert by_metric[GridMetric.CARBON_INTENSITY] >= 2 and by_metric[GridMetric.GENERATION_SHARE] >= 3
        assert by_metric[GridMetric.DEMAND] >= 2
        wait_for(lambda: replay.hits["/api:A44"] >= 2, 30, "the ENTSO-E price fetch retried on the next poll")
        got = signals(kafka, f"{site}.grid", until=13)
        assert [s.value for s in got if s.metric is GridMetric.PRICE][:3] == [80.5, 75.0, 91.25]
        assert replay.hits["/intensity"] >= 3, "429 and 500 were retried within one poll"
        assert any(k.startswith("/intensity/") and k.endswith("/fw24h") for k in replay.hits), replay.hits
        assert replay.tokens == {"tok"}
        assert {s.unit for s in got if s.metric is GridMetric.CARBON_INTENSITY} == {"gCO2/kWh"}
        assert {s.fuel for s in got if s.metric is GridMetric.GENERATION_SHARE} == {"gas", "wind", "solar"}

        def healthy() -> bool:
            return all(s["last_success"] for s in httpx.get(stream).json()["sources"])

        wait_for(healthy, 30, "both sources succeeding")
        status = {s["name"]: s for s in httpx.get(stream).json()["sources"]}
        assert status["be"]["errors"] >= 1 and status["be"]["last_values"]["price"]["value"] == 91.25
        assert status["gb"]["last_values"]["carbon_intensity"]["forecast"] is True
        assert status["gb"]["age_s"] < 30
        scrape = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'gridwatch_grid_value_age_seconds{component="grid",site="' in scrape
        assert 'outcome="rate_limited"' in scrape and 'outcome="server_error"' in scrape

        stopped = httpx.delete(stream, headers=auth)
        assert stopped.status_code == 200 and stopped.json()["running"] is False
        before = sum(replay.hits.values())
        time.sleep(4)
        assert sum(replay.hits.values()) == before, "no polling after DELETE"
        assert httpx.get(stream).json()["sources"][0]["last_values"], "the last good values stay readable"
    finally:
        assert grid.stop() == 0, grid.log()[-3000:]
