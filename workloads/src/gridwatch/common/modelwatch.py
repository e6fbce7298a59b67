"""Hot reload of promoted models: a thread that hears promotions (Redis pub/sub, plus a periodic registry check),
loads and verifies the new artifact off the hot path, and hands it to the workload's loop to swap between batches.

If the new version fails to load (bad checksum, unexpected type, malformed content) the workload keeps serving
the model it has; the failure is counted, logged, and reported beside the running version in Redis.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
import redis
import structlog

from gridwatch.common import registry
from gridwatch.common.artifact import Artifact, ArtifactError, loads
from gridwatch.common.db.connection import connect
from gridwatch.common.registry import ModelKind, ModelRecord

T = TypeVar("T")


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A verified, built model and its registry record."""

    record: ModelRecord
    model: T


class ModelWatcher(Generic[T]):
    """Follows the promoted model of one kind; `take()` returns a newly loaded one (at most once per version)."""

    def __init__(
        self,
        *,
        conninfo: str,
        redis_url: str,
        redis_client: redis.Redis | None = None,
        site: str,
        kind: ModelKind,
        component: str,
        build: Callable[[Artifact], T],
        poll_s: float = 60.0,
        on_loaded: Callable[[ModelRecord], None] | None = None,
        on_failed: Callable[[int, str], None] | None = None,
        log: Any = None,
    ) -> None:
        self.conninfo = conninfo
        self.site = site
        self.kind = kind
        self.replica = f"{component}@{socket.gethostname()}"
        self.build = build
        self.poll_s = poll_s
        self.on_loaded = on_loaded
        self.on_failed = on_failed
        self.log = log or structlog.get_logger(__name__)
        # the workload's own client (gridwatch.common.redisclient: credentials), else one from the URL
        self.redis = redis_client or redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3)
        self.running: int | None = None  # version the workload serves (after take)
        self.failed: int | None = None  # last version that could not be loaded
        self.error = ""
        self._loaded: int | None = None  # version loaded (waiting in _ready or taken)
        self._ready: Loaded[T] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"models-{kind.value}", daemon=True)

    def start(self) -> ModelWatcher[T]:
        """Check the registry now and then follow it in the background."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.redis.close()

    def check_now(self) -> None:
        """Ask the thread to look at the registry at once (what a promotion notice does)."""
        self._wake.set()

    def has_new(self) -> bool:
        """True while a newly loaded model waits to be taken (a loop that sleeps long may wake for it)."""
        with self._lock:
            return self._ready is not None

    def take(self) -> Loaded[T] | None:
        """The newly loaded model, once: the caller swaps it in between batches and serves it from then on."""
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None:
            self.running = ready.record.version
            self.log.info("model swapped in", kind=self.kind.value, version=ready.record.version)
            self._report()
        return ready

    # --- the thread ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        listener = threading.Thread(target=self._listen, name=f"models-{self.kind.value}-notices", daemon=True)
        listener.start()
        while not self._stop.is_set():
            self._wake.clear()
            self.check()
            self._wake.wait(self.poll_s)

    def _listen(self) -> None:
        """Wake the checker on every promotion notice of this kind; reconnect after Redis errors."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(registry.channel(self.site))
                delay = 0.5
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=1.0)
                    if msg is not None and self._is_mine(msg.get("data")):
                        self._wake.set()
            except (redis.RedisError, OSError, TypeError, ValueError) as exc:
                # TypeError/ValueError: redis-py polling a socket the client closed meanwhile (at shutdown)
                if self._stop.is_set():
                    return
                self.log.warning("model notices unavailable; polling the registry", error=str(exc))
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _is_mine(self, data: Any) -> bool:
        try:
            return bool(json.loads(data).get("kind") == self.kind.value)
        except (ValueError, TypeError, AttributeError):
            return False

    def check(self) -> None:
        """Load the promoted version if it is new; keep the current one (and say so) if it cannot be loaded."""
        try:
            with connect(self.conninfo, f"{self.kind.value}-watch") as conn:
                current = registry.promoted(conn, self.site, self.kind)
                if current is None or current.version in (self._loaded, self.failed):
                    self._report()
                    return
                blob, recorded = registry.artifact_of(conn, self.site, self.kind, current.version)
        except psycopg.Error as exc:
            self.log.warning("model registry unavailable; keeping the current model", error=str(exc))
            return
        try:
            model = self.build(loads(blob, recorded, self.kind.value))
        except (ArtifactError, ValueError) as exc:
            self.failed, self.error = current.version, str(exc)
            self.log.error(
                "promoted model failed to load; keeping the current one",
                kind=self.kind.value,
                version=current.version,
                running=self.running,
                error=str(exc),
            )
            if self.on_failed is not None:
                self.on_failed(current.version, str(exc))
            self._report()
            return
        with self._lock:
            self._ready = Loaded(current, model)
            self._loaded = current.version
        self.failed, self.error = None, ""
        self.log.info("promoted model loaded", kind=self.kind.value, version=current.version)
        if self.on_loaded is not None:
            self.on_loaded(current)

    def _report(self) -> None:
        try:
            registry.report_running(
                self.redis, self.site, self.replica, self.kind, self.running, self.failed, self.error
            )
        except (redis.RedisError, OSError) as exc:
            self.log.warning("could not report the running model to Redis", error=str(exc))
