"""Prometheus metrics of the API, including the site's live state read from Redis for the site dashboard."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import msgspec
import structlog
from fastapi import Request, Response
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from gridwatch.api import tasks
from gridwatch.api.contract import DashboardStats, ProducerStatus
from gridwatch.common.metrics import LABELS, announce
from gridwatch.common.metrics import exposition as common_exposition

log = structlog.get_logger(__name__)

REQUESTS = Histogram(
    "gridwatch_api_request_seconds",
    "HTTP request latency by route and status",
    (*LABELS, "route", "method", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WS_CLIENTS = Gauge("gridwatch_api_websocket_clients", "Connected WebSocket clients", LABELS)
WS_MESSAGES = Counter("gridwatch_api_websocket_messages_total", "Messages sent to WebSocket clients", (*LABELS, "type"))
WS_SNAPSHOTS = Counter(
    "gridwatch_api_websocket_snapshots_total",
    "Snapshots sent to connecting WebSocket clients, read from Redis or shared from the last one",
    (*LABELS, "source"),
)
REDIS_ERRORS = Counter("gridwatch_api_redis_errors_total", "Requests that failed because Redis was down", LABELS)
WS_TYPES = ("snapshot", "update", "critical_alerts", "producer_connected", "producer_disconnected", "error")


def exposition(request: Request) -> Response:
    """GET /metrics: the process registry, OpenMetrics when asked for, else the Prometheus text format (a route)."""
    body, content_type = common_exposition(request.headers.get("accept"), REGISTRY)
    return Response(body, media_type=content_type)


def init(site: str) -> dict[str, str]:
    """Create every series at its starting value so rates and alerts see them from the first scrape."""
    labels = announce(site, "api")
    WS_CLIENTS.labels(**labels).set(0)
    REDIS_ERRORS.labels(**labels)
    for kind in WS_TYPES:
        WS_MESSAGES.labels(**labels, type=kind)
    for source in ("redis", "shared"):
        WS_SNAPSHOTS.labels(**labels, source=source)
    return labels


class StatsSource(Protocol):
    """What SiteStats reads: the repository's aggregate queries."""

    async def stats(self) -> DashboardStats: ...

    async def producer_status(self) -> ProducerStatus: ...


class SiteStats:
    """Refreshes one site's live state (power, energy, sensors by status, riskiest sensors, producers).

    An asyncio task reads Redis every `interval_s` and hands the snapshot to the process-wide collector;
    scrapes only read snapshots, so /metrics never waits on Redis.
    """

    def __init__(self, labels: dict[str, str], interval_s: float = 5.0) -> None:
        self.labels = labels
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def refresh(self, source: StatsSource) -> None:
        """Read the aggregates once and keep them for the next scrapes."""
        stats = await source.stats()
        producers = await source.producer_status()
        _COLLECTOR.put(self.labels, Snapshot(time.time(), stats, producers))

    def start(self, source: StatsSource) -> None:
        """Refresh in the background until stop()."""
        self._task = asyncio.create_task(self._loop(source), name="site-stats")

    async def stop(self) -> None:
        """Cancel the refresh task and stop exporting this site."""
        await tasks.cancel([self._task], "site stats")
        self._task = None
        _COLLECTOR.drop(self.labels)

    async def _loop(self, source: StatsSource) -> None:
        while True:
            try:
                await self.refresh(source)
            except (RedisError, OSError) as exc:
                if tasks.stopping():
                    raise asyncio.CancelledError from exc
                log.debug("site stats refresh failed", error=str(exc))
            await asyncio.sleep(self.interval_s)


@dataclass(frozen=True)
class Snapshot:
    """Aggregates of one site as read at `taken_at`."""

    taken_at: float
    stats: DashboardStats
    producers: ProducerStatus


class SiteStatsCollector(Collector):
    """Exports the latest snapshot of every site served by this process; drops snapshots older than max_age_s."""

    def __init__(self, max_age_s: float = 60.0) -> None:
        self.max_age_s = max_age_s
        self._snapshots: dict[tuple[tuple[str, str], ...], Snapshot] = {}
        self._lock = threading.Lock()

    def put(self, labels: dict[str, str], snapshot: Snapshot) -> None:
        """Keep the newest snapshot of a site."""
        with self._lock:
            self._snapshots[tuple(labels.items())] = snapshot

    def drop(self, labels: dict[str, str]) -> None:
        """Stop exporting a site."""
        with self._lock:
            self._snapshots.pop(tuple(labels.items()), None)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        now = time.time()
        with self._lock:
            fresh = [(dict(k), s) for k, s in self._snapshots.items() if now - s.taken_at <= self.max_age_s]
        names = list(LABELS)
        # energy is the processor's counter gridwatch_processor_energy_joules_total (one count per reading), not
        # Redis's running total again here; today's energy and cost from PostgreSQL are api/energy_today.py's
        power = GaugeMetricFamily(
            "gridwatch_api_site_power_watts", "Site power: sum of the latest power readings (W)", labels=names
        )
        producers = GaugeMetricFamily(
            "gridwatch_api_site_producers_connected", "Producers whose heartbeat is recent", labels=names
        )
        taken = GaugeMetricFamily(
            "gridwatch_api_site_state_timestamp_seconds", "When the site's state was read (unix time)", labels=names
        )
        sensors = GaugeMetricFamily(
            "gridwatch_api_site_sensors", "Sensors in each status bin", labels=[*names, "status"]
        )
        risk = GaugeMetricFamily(
            "gridwatch_api_site_failure_probability",
            "Failure probability of the site's riskiest sensors (top 10)",
            labels=[*names, "sensor"],
        )
        for labels, snap in fresh:
            values = [labels[n] for n in names]
            power.add_metric(values, snap.stats.total_power_kw * 1000.0)
            producers.add_metric(values, float(sum(1 for p in snap.producers.producers if p.connected)))
            taken.add_metric(values, snap.taken_at)
            for status, count in msgspec.structs.asdict(snap.stats.status_counts).items():
                sensors.add_metric([*values, status], float(count))
            for entry in snap.stats.top_failure_probabilities:
                risk.add_metric([*values, entry.id], entry.failure_probability)
        if fresh:
            yield from (power, producers, taken, sensors, risk)


_COLLECTOR = SiteStatsCollector()
REGISTRY.register(_COLLECTOR)
