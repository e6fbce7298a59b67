"""Fixtures that start a real Kafka broker and a real Redis server once per test session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.infra.services import Kafka, Postgres, Redis
from tests.utils.workloads import free_port

_sites = itertools.count()


@pytest.fixture(scope="session")
def infra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def kafka(infra_dir: Path) -> Iterator[Kafka]:
    broker = Kafka(infra_dir / "kafka")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def redis_server(infra_dir: Path) -> Iterator[Redis]:
    server = Redis(infra_dir / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(infra_dir: Path) -> Iterator[Postgres]:
    """A real PostgreSQL server (Debian's), database `gridwatch`; tests keep apart by site name."""
    server = Postgres(infra_dir / "postgres")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: Redis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def site(request: pytest.FixtureRequest) -> str:
    """A fresh site name per test, so topics, groups and keys never collide."""
    return f"it{next(_sites)}-{abs(hash(request.node.name)) % 10_000}"


@pytest.fixture
def base_env(kafka: Kafka, redis_server: Redis, site: str) -> dict[str, str]:
    return {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_PARTITIONS": "4",
        "GRIDWATCH_LOG_LEVEL": "INFO",
        "GRIDWATCH_METRICS_PORT": str(free_port()),
    }
