"""The one place Redis clients are built: URL, ACL user and password from the settings, a refused login fails fast."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis

from gridwatch.common.settings import CommonSettings


class RedisAuthenticationError(RuntimeError):
    """Redis refused the configured user/password (or wants one); retrying will not help.

    Not a redis ConnectionError on purpose: redis-py's AuthenticationError is one, so the workloads' retry
    loops (which retry a Redis that is down) would retry a wrong password forever.
    """


def _auth(settings: CommonSettings) -> dict[str, Any]:
    """username/password keyword arguments; credentials written in GRIDWATCH_REDIS_URL take precedence."""
    out: dict[str, Any] = {}
    if settings.redis_username:
        out["username"] = settings.redis_username
    if settings.redis_password.get_secret_value():
        out["password"] = settings.redis_password.get_secret_value()
    return out


def check_login(settings: CommonSettings) -> None:
    """PING once with the configured credentials; raise RedisAuthenticationError when they are refused.

    A Redis that is down or slow is not an error here (the workloads ride that out); only a refused login is.
    """
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=2, **_auth(settings))
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        user = settings.redis_username or "default"
        raise RedisAuthenticationError(
            f"Redis refused user {user!r}: {exc} (check GRIDWATCH_REDIS_USERNAME / GRIDWATCH_REDIS_PASSWORD)"
        ) from exc
    except redis.RedisError:
        pass
    finally:
        client.close()


def connect(settings: CommonSettings, *, check: bool = True, **kwargs: Any) -> redis.Redis:
    """A synchronous client (after check_login unless `check` is false); kwargs go to redis.Redis.from_url."""
    if check:
        check_login(settings)
    options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 3, **_auth(settings), **kwargs}
    return redis.Redis.from_url(settings.redis_url, **options)


def connect_async(settings: CommonSettings, *, check: bool = True, **kwargs: Any) -> aioredis.Redis:
    """An asyncio client, checked like connect(); kwargs go to redis.asyncio.Redis.from_url."""
    if check:
        check_login(settings)
    options: dict[str, Any] = {"socket_timeout": 3, "socket_connect_timeout": 2, **_auth(settings), **kwargs}
    return aioredis.Redis.from_url(settings.redis_url, **options)
