"""`gridwatch check`: can this configuration reach Kafka, Redis and PostgreSQL, and with what latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from gridwatch.common.settings import CommonSettings
from gridwatch.ops.redact import redact


@dataclass(frozen=True)
class Probe:
    """The outcome of reaching one dependency."""

    component: str
    target: str
    ok: bool
    latency_ms: float | None
    detail: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def _timed(component: str, target: str, attempt: Callable[[], str]) -> Probe:
    """Run `attempt` (which returns a detail line or raises) and time it."""
    start = time.perf_counter()
    try:
        detail = attempt()
    except Exception as exc:  # every failure is reported, none is fatal to the check
        return Probe(component, target, False, None, f"{type(exc).__name__}: {exc}".strip())
    return Probe(component, target, True, round((time.perf_counter() - start) * 1000, 2), detail)


def check_kafka(settings: CommonSettings, timeout_s: float) -> Probe:
    """Fetch the cluster metadata with the configured security; report brokers and the site's missing topics."""
    from confluent_kafka.admin import AdminClient

    from gridwatch.common import kafka

    def attempt() -> str:
        admin = AdminClient(kafka.client_config(settings.kafka_bootstrap, settings))
        meta = admin.list_topics(timeout=timeout_s)
        wanted = [settings.topic(kind) for kind in kafka.TOPIC_KINDS]
        missing = [t for t in wanted if t not in meta.topics]
        protocol = settings.kafka_security_protocol
        topics = "all site topics present" if not missing else f"missing topics: {', '.join(missing)}"
        return f"{len(meta.brokers)} broker(s), {protocol}, {topics}"

    return _timed("kafka", settings.kafka_bootstrap, attempt)


def check_redis(settings: CommonSettings, timeout_s: float) -> Probe:
    """PING with the configured user and password; report the server version."""
    from gridwatch.common import redisclient

    def attempt() -> str:
        client = redisclient.connect(settings, check=False, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        try:
            client.ping()
            info = client.info("server")
            return f"redis {info.get('redis_version', '?')}, user {settings.redis_username or 'default'}"
        finally:
            client.close()

    return _timed("redis", redact(settings.redis_url), attempt)


def check_postgres(settings: CommonSettings, timeout_s: float) -> Probe:
    """Connect and query; report the server version and how many of the shipped migrations are applied."""
    conninfo = settings.postgres_conninfo
    if not conninfo:
        return Probe("postgres", "-", True, None, "not configured (GRIDWATCH_POSTGRES_DSN / _HOST empty): skipped")

    import psycopg

    from gridwatch.common.db.migrate import load

    def attempt() -> str:
        with psycopg.connect(conninfo, connect_timeout=max(1, round(timeout_s)), autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            table = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            applied = 0
            if table is not None and table[0] is not None:
                row = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
                applied = int(row[0]) if row is not None else 0
            shipped = len(load())
            state = "schema up to date" if applied >= shipped else f"{shipped - applied} migration(s) pending"
            return f"postgres {version[0] if version else '?'}, user {conn.info.user}, {state}"

    return _timed("postgres", redact(conninfo), attempt)


def run(settings: CommonSettings, timeout_s: float = 5.0) -> list[Probe]:
    """Every probe, in pipeline order."""
    return [check_kafka(settings, timeout_s), check_redis(settings, timeout_s), check_postgres(settings, timeout_s)]
