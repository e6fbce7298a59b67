"""Redis with a password (requirepass) and with an ACL user, on the real server: every client is built by
common/redisclient.py from the settings; a wrong or missing password is refused clearly, the right one works."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from gridwatch.common import redisclient
from gridwatch.common.rediskeys import Keys
from gridwatch.common.settings import CommonSettings
from gridwatch.local.redis import Redis
from pydantic import SecretStr

from tests.infra.services import Kafka
from tests.utils.workloads import Workload, free_port, wait_for

PASSWORD = "pw-" + uuid.uuid4().hex
ACL_USER, ACL_PASSWORD = "gridwatch-app", "acl-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis-pw"), password=PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis-acl"), password=ACL_PASSWORD, username=ACL_USER)
    server.start()
    yield server
    server.stop()


def settings(server: Redis, redis_username: str = "", redis_password: str = "") -> CommonSettings:
    return CommonSettings(redis_url=server.url, redis_username=redis_username, redis_password=SecretStr(redis_password))


def test_the_right_password_works(locked_redis: Redis) -> None:
    client = redisclient.connect(settings(locked_redis, redis_password=PASSWORD))
    client.set("gw:t:k", "v")
    assert client.get("gw:t:k") == b"v"
    client.close()
    # the launcher's own env is what `make up` hands the workloads
    assert locked_redis.env() == {"GRIDWATCH_REDIS_URL": locked_redis.url, "GRIDWATCH_REDIS_PASSWORD": PASSWORD}


@pytest.mark.parametrize("password", ["not-it", ""])
def test_a_wrong_or_missing_password_is_refused_clearly(locked_redis: Redis, password: str) -> None:
    with pytest.raises(redisclient.RedisAuthenticationError, match="GRIDWATCH_REDIS_PASSWORD") as err:
        redisclient.connect(settings(locked_redis, redis_password=password))
    assert "Redis refused user 'default'" in str(err.value)
    # and it is not a redis ConnectionError, which the workloads' retry loops would retry forever
    assert not isinstance(err.value, redis.ConnectionError)
    # without the check, the server itself still refuses every command
    unchecked = redisclient.connect(settings(locked_redis, redis_password=password), check=False)
    with pytest.raises(redis.AuthenticationError):
        unchecked.get("gw:t:k")


def test_an_acl_user_works_and_the_default_user_is_off(acl_redis: Redis) -> None:
    client = redisclient.connect(settings(acl_redis, redis_username=ACL_USER, redis_password=ACL_PASSWORD))
    assert client.acl_whoami() == ACL_USER
    client.set("gw:t:acl", "1")
    with pytest.raises(redisclient.RedisAuthenticationError, match="'default'"):
        redisclient.connect(settings(acl_redis, redis_password=ACL_PASSWORD))
    with pytest.raises(redisclient.RedisAuthenticationError, match=ACL_USER):
        redisclient.connect(settings(acl_redis, redis_username=ACL_USER, redis_password="wrong"))


def test_the_async_client_authenticates_too(acl_redis: Redis) -> None:
    redisclient.connect(settings(acl_redis, ACL_USER, ACL_PASSWORD)).set("gw:t:async", "1")

    async def read() -> bytes | str | None:
        client = redisclient.connect_async(settings(acl_redis, ACL_USER, ACL_PASSWORD))
        try:
            value: bytes | str | None = await client.get("gw:t:async")
        finally:
            await client.aclose()
        return value

    assert asyncio.run(read()) == b"1"
    with pytest.raises(redisclient.RedisAuthenticationError):
        redisclient.connect_async(settings(acl_redis, ACL_USER, "wrong"))


def test_workloads_use_the_password_end_to_end(kafka: Kafka, acl_redis: Redis, site: str, tmp_path: Path) -> None:
    """Simulator -> processor -> Redis -> API with only an ACL user allowed in; then an API with a wrong password
    exits at start with the reason instead of serving 503s forever."""
    sensors, ticks = 30, 10
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "GRIDWATCH_PARTITIONS": "2",
        **acl_redis.env(),
    }
    assert env["GRIDWATCH_REDIS_USERNAME"] == ACL_USER
    sim = Workload(
        "simulator",
        {
            **env,
            "GRIDWATCH_SIM_SENSORS": str(sensors),
            "GRIDWATCH_SIM_RATE": "2000",
            "GRIDWATCH_SIM_MAX_TICKS": str(ticks),
            "GRIDWATCH_METRICS_PORT": str(free_port()),
        },
        tmp_path,
    )
    proc = Workload("processor", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    port = free_port()
    api = Workload("api", {**env, "GRIDWATCH_API_PORT": str(port)}, tmp_path)
    reader = redisclient.connect(settings(acl_redis, redis_username=ACL_USER, redis_password=ACL_PASSWORD))
    for w in (proc, api, sim):
        w.start()
    try:
        wait_for(
            lambda: (
                int(reader.hget(Keys(site).aggregates, "readings_total") or 0) >= sensors * ticks or not proc.alive()
            ),
            300,  # generous: a loaded 2-core machine takes long to start the workloads
            "every reading in Redis",
            logs=(sim, proc),
        )
        assert proc.alive(), proc.log()[-3000:]
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/api/sensors").status_code == 200, 180, "API", logs=(api,))
        assert httpx.get(f"http://127.0.0.1:{port}/api/sensors").json()["total"] == sensors
    finally:
        for w in (sim, proc, api):
            w.stop()
    bad = Workload(
        "api", {**env, "GRIDWATCH_REDIS_PASSWORD": "wrong", "GRIDWATCH_API_PORT": str(free_port())}, tmp_path
    ).start()
    try:
        code = bad.wait(300)
    finally:
        bad.stop()
    assert code != 0
    assert "Redis refused user 'gridwatch-app'" in bad.log()
