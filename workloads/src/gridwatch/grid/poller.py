"""Scheduled polling of each source with retries and backoff, producing GridSignals and keeping the last good ones."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from confluent_kafka import Producer

from gridwatch.common import kafka
from gridwatch.common.schema import GRID_UNITS, SCHEMA_VERSION, GridSignal, encode_grid
from gridwatch.grid import adapters, metrics
from gridwatch.grid.settings import GridSettings, Source

log = structlog.get_logger(__name__)


class _Retry(Exception):
    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


@dataclass
class SourceStatus:
    """What GET /stream reports for one source."""

    name: str
    adapter: str
    last_fetch: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    errors: int = 0
    signals: int = 0
    last_values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def view(self, now: float) -> dict[str, Any]:
        """JSON-ready view with the age of the last good value."""
        return {
            "name": self.name,
            "adapter": self.adapter,
            "last_fetch": self.last_fetch,
            "last_success": self.last_success,
            "age_s": None if self.last_success is None else round(now - self.last_success, 3),
            "last_error": self.last_error,
            "errors": self.errors,
            "signals": self.signals,
            "last_values": self.last_values,
        }


class Poller:
    """One asyncio task per source while streaming."""

    def __init__(self, settings: GridSettings, producer: Producer, labels: dict[str, str]) -> None:
        self.settings = settings
        self.producer = producer
        self.labels = labels
        self.topic = settings.topic("grid")
        self.status = {s.name: SourceStatus(s.name, s.adapter) for s in settings.sources}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.started_at: float | None = None
        for source in settings.sources:
            metrics.VALUE_AGE.labels(**labels, source=source.name).set_function(self._age(source.name))

    def _age(self, name: str) -> Any:
        def age() -> float:
            last = self.status[name].last_success
            return float("nan") if last is None else time.time() - last

        return age

    @property
    def running(self) -> bool:
        """True while the stream is started."""
        return bool(self._tasks)

    def start(self, names: list[str] | None = None) -> list[str]:
        """Start polling the named sources (all when None); returns those now running."""
        for source in self.settings.sources:
            if (names is None or source.name in names) and source.name not in self._tasks:
                self._tasks[source.name] = asyncio.create_task(self._loop(source), name=f"grid-{source.name}")
        if self._tasks and self.started_at is None:
            self.started_at = time.time()
        metrics.STREAMING.labels(**self.labels).set(1 if self._tasks else 0)
        return sorted(self._tasks)

    async def stop(self) -> None:
        """Stop every poll loop."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.started_at = None
        metrics.STREAMING.labels(**self.labels).set(0)

    async def _loop(self, source: Source) -> None:
        async with httpx.AsyncClient(base_url=source.url, timeout=self.settings.timeout_s) as client:
            while True:
                started = time.monotonic()
                await self.poll_once(client, source)
                await asyncio.sleep(max(0.0, source.interval_s - (time.monotonic() - started)))

    async def poll_once(self, client: httpx.AsyncClient, source: Source) -> None:
        """Fetch every document of the source (with retries), then produce its signals."""
        status = self.status[source.name]
        requests = (
            [(p, {}) for p in adapters.carbon_intensity_paths(datetime.now(UTC))]
            if source.adapter == "gb-carbon-intensity"
            else [
                ("/api", adapters.entsoe_params(d, source.region, source.token.get_secret_value(), datetime.now(UTC)))
                for d in source.document_types
            ]
        )
        points: list[adapters.Point] = []
        failed = False
        for path, params in requests:
            status.last_fetch = time.time()
            try:
                body = await self._fetch(client, source, path, params)
                points.extend(
                    adapters.parse_carbon_intensity(path, body)
                    if source.adapter == "gb-carbon-intensity"
                    else adapters.parse_entsoe(body)
                )
            except (adapters.SourceError, _Retry, httpx.HTTPError) as exc:
                failed = True
                status.errors += 1
                status.last_error = f"{path}: {exc}"
                log.warning(
                    "grid fetch failed; keeping the last good values", source=source.name, error=status.last_error
                )
        if points:
            self._produce(source, points, status)
        if not failed:
            status.last_error = None
        if points and not failed:
            status.last_success = time.time()
            metrics.LAST_SUCCESS.labels(**self.labels, source=source.name).set(status.last_success)

    async def _fetch(self, client: httpx.AsyncClient, source: Source, path: str, params: dict[str, str]) -> bytes:
        delay = self.settings.backoff_s
        for attempt in range(self.settings.max_retries + 1):
            try:
                response = await client.get(path, params=params)
            except httpx.TransportError as exc:
                outcome, retry = "transport_error", _Retry(f"transport error: {exc}")
            else:
                if response.status_code == 200:
                    metrics.FETCHES.labels(**self.labels, source=source.name, outcome="ok").inc()
                    return response.content
                if response.status_code == 429 or response.status_code >= 500:
                    after = response.headers.get("Retry-After")
                    wait = float(after) if after and after.replace(".", "", 1).isdigit() else None
                    outcome = "rate_limited" if response.status_code == 429 else "server_error"
                    retry = _Retry(f"HTTP {response.status_code}", wait)
                else:
                    metrics.FETCHES.labels(**self.labels, source=source.name, outcome="client_error").inc()
                    detail = response.text[:300]
                    try:  # an error document says why
                        if source.adapter == "gb-carbon-intensity":
                            adapters.parse_carbon_intensity(path, response.content)
                        else:
                            adapters.parse_entsoe(response.content)
                    except adapters.SourceError as exc:
                        detail = str(exc)
                    raise adapters.SourceError(f"HTTP {response.status_code}: {detail}")
            metrics.FETCHES.labels(**self.labels, source=source.name, outcome=outcome).inc()
            if attempt == self.settings.max_retries:
                raise retry
            wait_s = retry.after if retry.after is not None else delay * (0.5 + random.random())
            log.info("grid fetch retry", source=source.name, reason=str(retry), wait_s=round(wait_s, 2))
            await asyncio.sleep(min(wait_s, self.settings.backoff_max_s))
            delay = min(delay * 2, self.settings.backoff_max_s)
        raise AssertionError("unreachable")

    def _produce(self, source: Source, points: list[adapters.Point], status: SourceStatus) -> None:
        fetched = time.time()
        latest: dict[tuple[str, str], adapters.Point] = {}
        for p in points:
            signal = GridSignal(
                schema_version=SCHEMA_VERSION,
                site=self.settings.site,
                source=source.name,
                region=source.region,
                metric=p.metric,
                unit=GRID_UNITS[p.metric],
                start_ts=p.start_ts,
                end_ts=p.end_ts,
                value=p.value,
                fetched_ts=fetched,
                fuel=p.fuel,
                forecast=p.forecast,
            )
            key = f"{source.name}:{p.metric.value}:{p.fuel}"
            kafka.produce(self.producer, self.topic, encode_grid(signal), key.encode())
            current = latest.get((p.metric.value, p.fuel))
            if current is None or p.start_ts >= current.start_ts:
                latest[(p.metric.value, p.fuel)] = p
        for (metric, fuel), p in latest.items():
            status.last_values[f"{metric}:{fuel}" if fuel else metric] = {
                "value": p.value, "unit": GRID_UNITS[p.metric], "start_ts": p.start_ts, "end_ts": p.end_ts,
                "forecast": p.forecast,
            }  # fmt: skip
            metrics.LAST_VALUE.labels(**self.labels, source=source.name, metric=metric, fuel=fuel).set(p.value)
        status.signals += len(points)
        metrics.SIGNALS.labels(**self.labels, source=source.name).inc(len(points))
        self.producer.poll(0)
