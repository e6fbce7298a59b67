"""Live fan-out: one Redis pub/sub subscription per API replica, pushed to every WebSocket client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import msgspec
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from gridwatch.api import metrics, tasks
from gridwatch.api.contract import (
    CriticalAlertsEvent,
    ErrorEvent,
    LiveEvent,
    ProducerConnectedEvent,
    ProducerDisconnectedEvent,
    SnapshotEvent,
    UpdateEvent,
)
from gridwatch.api.encoding import encode
from gridwatch.api.repository import Repository
from gridwatch.common.live import LiveBatch, LiveChange, live_decoder

log = structlog.get_logger(__name__)


class Client:
    """One WebSocket client's outbound queue; a slow client loses its oldest updates, not the others."""

    def __init__(self, maxsize: int = 64) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize)

    def offer(self, data: bytes) -> None:
        """Queue a message, dropping the oldest when full."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(data)


class LiveHub:
    """Subscribes to the site's channel, batches changes and broadcasts periodic updates and bursts."""

    def __init__(
        self,
        client: aioredis.Redis,
        repo: Repository,
        channel: str,
        interval_s: float,
        labels: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = client
        self.clock = clock  # monotonic seconds; injected by tests
        self.repo = repo
        self.channel = channel
        self.interval_s = interval_s
        self.labels = labels
        self.clients: set[Client] = set()
        self.changed: dict[str, LiveChange] = {}
        self.readings = 0
        self.anomalies = 0
        self.producer_connected: bool | None = None
        self.redis_up = True
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshot: tuple[float, int, bytes] | None = None  # (taken at, limit, encoded)
        self._snapshot_lock = asyncio.Lock()

    def start(self) -> None:
        """Start the subscriber and the ticker."""
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="live-subscribe"),
            asyncio.create_task(self._tick(), name="live-tick"),
        ]

    async def stop(self) -> None:
        """Cancel background tasks."""
        await tasks.cancel(self._tasks, "live hub")

    async def snapshot(self, limit: int) -> bytes:
        """The encoded snapshot for a new client, shared by every client connecting within one update period.

        A reconnect storm (an API restart, a network blip) then costs one Redis read, not one per client; the
        clients miss nothing, since the updates after it carry what changed. Raises RedisError/OSError.
        """
        async with self._snapshot_lock:
            cached = self._snapshot
            if cached is not None and cached[1] == limit and self.clock() - cached[0] < self.interval_s:
                metrics.WS_SNAPSHOTS.labels(**self.labels, source="shared").inc()
                return cached[2]
            repo = self.repo
            sensors = await repo.top_sensors(limit)
            body = SnapshotEvent(
                ts=time.time(), stats=await repo.stats(), producer=await repo.producer_status(), sensors=sensors
            )
            data = encode(body)
            self._snapshot = (self.clock(), limit, data)
            metrics.WS_SNAPSHOTS.labels(**self.labels, source="redis").inc()
            return data

    def add(self) -> Client:
        """Register a client."""
        client = Client()
        self.clients.add(client)
        metrics.WS_CLIENTS.labels(**self.labels).set(len(self.clients))
        return client

    def remove(self, client: Client) -> None:
        """Forget a client."""
        self.clients.discard(client)
        metrics.WS_CLIENTS.labels(**self.labels).set(len(self.clients))

    def broadcast(self, event: LiveEvent) -> None:
        """Send an event to every client."""
        if not self.clients:
            return
        data = encode(event)
        for client in list(self.clients):
            client.offer(data)
        kind = str(event.__struct_config__.tag)
        metrics.WS_MESSAGES.labels(**self.labels, type=kind).inc(len(self.clients))

    async def _subscribe(self) -> None:
        delay = 0.5
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._on_message(message["data"])
            except (RedisError, OSError) as exc:
                if tasks.stopping():
                    raise asyncio.CancelledError from exc
                log.warning("live subscription lost; retrying", error=str(exc), delay=delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _on_message(self, data: bytes) -> None:
        try:
            batch = live_decoder.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:  # a publisher on another version: skip it
            log.warning("undecodable live message; skipped", error=str(exc))
            return
        self._on_batch(batch)

    def _on_batch(self, batch: LiveBatch) -> None:
        self.readings += batch.readings
        self.anomalies += batch.anomalies
        for change in batch.changed:
            self.changed[change.id] = change
        if batch.alerts:
            self.broadcast(CriticalAlertsEvent(ts=time.time(), alerts=batch.alerts))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._push_update()
            except (RedisError, OSError) as exc:
                if tasks.stopping():
                    raise asyncio.CancelledError from exc
                if self.redis_up:
                    log.warning("live update failed: redis unavailable", error=str(exc))
                    self.broadcast(ErrorEvent(ts=time.time(), detail="Redis is unavailable"))
                self.redis_up = False
            except Exception:  # keep pushing whatever one tick did
                if tasks.stopping():
                    raise
                log.exception("live update failed")

    async def _push_update(self) -> None:
        producer = await self.repo.producer_status()
        self.redis_up = True
        connected = producer.connected
        if self.producer_connected is not None and connected != self.producer_connected:
            notice = ProducerConnectedEvent if connected else ProducerDisconnectedEvent
            self.broadcast(notice(ts=time.time(), producer=producer))
        self.producer_connected = connected
        if not self.clients:
            self.changed.clear()
            self.readings = self.anomalies = 0
            return
        stats = await self.repo.stats()
        update = UpdateEvent(
            ts=time.time(),
            stats=stats,
            producer=producer,
            readings=self.readings,
            anomalies=self.anomalies,
            changed=list(self.changed.values())[:500],
        )
        self.changed.clear()
        self.readings = self.anomalies = 0
        self.broadcast(update)
