"""The real Kafka broker, Redis and PostgreSQL servers a benchmark run uses, pinned away from the measured core."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from gridwatch.local.kafka import Kafka
from gridwatch.local.postgres import Postgres
from gridwatch.local.redis import Redis

from tests.bench.procs import cpu_count, descendants, pin


class BenchStack:
    """Kafka (KRaft), Redis and PostgreSQL; with 2+ cores the servers go to core 0, the measured workload to core 1.

    Pass running `kafka`/`redis` (e.g. pytest's session servers) to reuse them; those are then left unpinned
    and are not stopped here. A running `postgres` may be passed the same way; without one the stack starts its
    own (and stops it).
    """

    def __init__(
        self,
        workdir: Path,
        kafka: Kafka | None = None,
        redis_server: Redis | None = None,
        postgres: Postgres | None = None,
    ) -> None:
        self.workdir = workdir
        self.owned = kafka is None and redis_server is None
        self.owns_postgres = postgres is None
        self.kafka = kafka if kafka is not None else Kafka(workdir / "kafka", heap="1g")
        self.redis = redis_server if redis_server is not None else Redis(workdir / "redis")
        self.postgres = postgres if postgres is not None else Postgres(workdir / "postgres")
        self.pinned = cpu_count() > 1 and self.owned
        self.measured_cpu: str | None = "1" if self.pinned else None
        self.other_cpu: str | None = "0" if self.pinned else None

    def start(self) -> Self:
        """Start the servers (unless reused) and move them onto core 0."""
        if self.owned:
            self.kafka.launch()
            self.redis.launch()
        if self.owns_postgres:
            self.postgres.launch()
        if self.owned:
            self.kafka.wait_ready()
            self.redis.wait_ready()
        if self.owns_postgres:
            self.postgres.wait_ready()
        if self.pinned and self.other_cpu is not None:
            for pid in (self.kafka.pid, self.redis.pid):
                if pid is not None:
                    pin(pid, self.other_cpu)
            if self.owns_postgres and self.postgres.pid is not None:
                # the postmaster and the helpers it already forked; backends forked later inherit the core
                for pid in (self.postgres.pid, *descendants(self.postgres.pid)):
                    pin(pid, self.other_cpu)
        return self

    def stop(self) -> None:
        """Stop the servers this stack started."""
        if self.owns_postgres:
            self.postgres.stop()
        if self.owned:
            self.redis.stop()
            self.kafka.stop()

    def client(self) -> redis.Redis:
        """A Redis client."""
        return redis.Redis.from_url(self.redis.url)

    def env(self, site: str) -> dict[str, str]:
        """GRIDWATCH_* variables of a workload serving `site` on this stack (no database: see `history_env`)."""
        return {
            "GRIDWATCH_SITE": site,
            "GRIDWATCH_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "GRIDWATCH_REDIS_URL": self.redis.url,
            "GRIDWATCH_PARTITIONS": "4",
            "GRIDWATCH_LOG_LEVEL": "INFO",
            "GRIDWATCH_METRICS_PORT": "0",
        }

    def history_env(self, site: str) -> dict[str, str]:
        """`env(site)` plus the PostgreSQL DSN, for the workloads that write to the database."""
        return {**self.env(site), "GRIDWATCH_POSTGRES_DSN": self.postgres.dsn}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
