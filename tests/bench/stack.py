"""The real Kafka broker and Redis server a benchmark run uses, pinned away from the measured core."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from tests.bench.procs import cpu_count, pin
from tests.infra.services import Kafka, Redis


class BenchStack:
    """Kafka (KRaft) and Redis; with 2+ cores the servers go to core 0 and the measured workload to core 1.

    Pass running `kafka`/`redis` (e.g. pytest's session servers) to reuse them; those are then left unpinned
    and are not stopped here.
    """

    def __init__(self, workdir: Path, kafka: Kafka | None = None, redis_server: Redis | None = None) -> None:
        self.workdir = workdir
        self.owned = kafka is None and redis_server is None
        self.kafka = kafka if kafka is not None else Kafka(workdir / "kafka", heap="1g")
        self.redis = redis_server if redis_server is not None else Redis(workdir / "redis")
        self.pinned = cpu_count() > 1 and self.owned
        self.measured_cpu: str | None = "1" if self.pinned else None
        self.other_cpu: str | None = "0" if self.pinned else None

    def start(self) -> Self:
        """Start both servers (unless reused) and move them onto core 0."""
        if self.owned:
            self.kafka.launch()
            self.redis.launch()
            self.kafka.wait_ready()
            self.redis.wait_ready()
        if self.pinned and self.other_cpu is not None:
            for pid in (self.kafka.pid, self.redis.pid):
                if pid is not None:
                    pin(pid, self.other_cpu)
        return self

    def stop(self) -> None:
        """Stop both servers if this stack started them."""
        if self.owned:
            self.redis.stop()
            self.kafka.stop()

    def client(self) -> redis.Redis:
        """A Redis client."""
        return redis.Redis.from_url(self.redis.url)

    def env(self, site: str) -> dict[str, str]:
        """GRIDWATCH_* variables of a workload serving `site` on this stack."""
        return {
            "GRIDWATCH_SITE": site,
            "GRIDWATCH_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "GRIDWATCH_REDIS_URL": self.redis.url,
            "GRIDWATCH_PARTITIONS": "4",
            "GRIDWATCH_LOG_LEVEL": "INFO",
            "GRIDWATCH_METRICS_PORT": "0",
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
