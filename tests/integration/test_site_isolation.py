"""Site isolation on ONE real Kafka, Redis and PostgreSQL: two live data planes (simulator -> processor -> history,
alerts) of the same site name in two namespaces, each under the identity the operator and the chart derive
(`<namespace>.<name>`), and neither sees the other's readings, alerts or history."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient
from gridwatch.alerting.rules import PROCESSOR_RULE, fingerprint
from gridwatch.api.app import create_app
from gridwatch.api.settings import ApiSettings
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import Alert, decode
from gridwatch_operator.spec import SiteSpec

from tests.infra.services import Kafka, Postgres, Redis
from tests.utils.workloads import Workload, wait_for

pytestmark = pytest.mark.integration
# The two planes differ in size and seed, so a leak in either direction changes a count.
PLANES = {"team-a": {"sensors": 40, "ticks": 300, "seed": 11}, "team-b": {"sensors": 25, "ticks": 240, "seed": 29}}


def readings_in_redis(client: redis.Redis, site_id: str) -> int:
    return int(client.hget(Keys(site_id).aggregates, "readings_total") or 0)


def sensors_in_redis(client: redis.Redis, site_id: str) -> set[str]:
    return {k.decode() if isinstance(k, bytes) else k for k in client.hkeys(Keys(site_id).sensors)}


def history(dsn: str, site_id: str) -> tuple[int, set[str]]:
    with psycopg.connect(dsn) as conn:
        total = conn.execute("SELECT coalesce(sum(readings), 0) FROM gw_history_minute WHERE site = %s", (site_id,))
        sensors = conn.execute("SELECT DISTINCT sensor_id FROM gw_history_minute WHERE site = %s", (site_id,))
        return int(total.fetchone()[0]), {s for (s,) in sensors.fetchall()}  # type: ignore[index]


def alert_rows(dsn: str, site_id: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM gw_alerts WHERE site = %s", (site_id,)).fetchone()[0])  # type: ignore[index]


def alert_fingerprints(dsn: str, site_id: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT DISTINCT fingerprint FROM gw_alerts WHERE site = %s", (site_id,)).fetchall()
    return {f for (f,) in rows}


def published_alerts(kafka: Kafka, topic: str) -> set[str]:
    """Fingerprints of every processor alert on `topic`, read to its end."""
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"check-{time.time()}", "auto.offset.reset": "earliest"}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        seen: dict[int, int] = dict.fromkeys(partitions, 0)
        found: set[str] = set()
        deadline = time.monotonic() + 60
        while any(seen[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            for msg in consumer.consume(500, 1.0):
                partition, offset = msg.partition(), msg.offset()
                if msg.error() or partition is None or offset is None:
                    continue
                seen[partition] = offset + 1
                alert = decode(msg.value() or b"")
                assert isinstance(alert, Alert)
                found.add(fingerprint(PROCESSOR_RULE, alert.sensor_id))
        assert all(seen[p] >= ends[p] for p in partitions), f"could not read {topic} to its end"
        return found
    finally:
        consumer.close()


def test_same_site_name_in_two_namespaces_shares_nothing(
    kafka: Kafka, redis_server: Redis, postgres: Postgres, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    dsn = postgres.dsn
    with connect(dsn, "test") as conn:
        migrate(conn)
    ids = {ns: SiteSpec.parse(site, {}, ns).site_id for ns in PLANES}  # the operator's derivation
    assert ids == {ns: f"{ns}.{site}" for ns in PLANES}
    workloads: list[Workload] = []
    for ns, plane in PLANES.items():
        env = {
            "GRIDWATCH_SITE": ids[ns],  # the chart's GRIDWATCH_SITE; the topic prefix and groups follow it
            "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "GRIDWATCH_REDIS_URL": redis_server.url,
            "GRIDWATCH_POSTGRES_DSN": dsn,
            "GRIDWATCH_PARTITIONS": "2",
            "GRIDWATCH_ALERTS_DEFAULT_RULES": "false",  # only the processor's alerts, so each is traceable
        }
        sim_env = {
            "GRIDWATCH_SIM_SENSORS": str(plane["sensors"]),
            "GRIDWATCH_SIM_MAX_TICKS": str(plane["ticks"]),
            "GRIDWATCH_SIM_SEED": str(plane["seed"]),
            "GRIDWATCH_SIM_RATE": "6000",
            "GRIDWATCH_SIM_ANOMALY_RATE": "0.2",
        }
        for name, extra in (("processor", {}), ("history", {}), ("alerts", {}), ("simulator", sim_env)):
            port = {"GRIDWATCH_METRICS_PORT": "0"}  # any free port, bound by the workload: no race between eight
            workloads.append(Workload(name, {**env, **port, **extra}, tmp_path, log_name=f"{ns}-{name}.log"))
    for w in workloads:
        w.start()
    logs = tuple(workloads)
    try:
        for ns, plane in PLANES.items():
            site_id, total = ids[ns], plane["sensors"] * plane["ticks"]
            in_redis = partial(lambda s, t: readings_in_redis(redis_client, s) >= t, site_id, total)
            wait_for(in_redis, 360, f"{ns}: {total} readings in Redis", logs=logs)
            in_history = partial(lambda s, t: history(dsn, s)[0] >= t, site_id, total)
            wait_for(in_history, 360, f"{ns}: {total} readings in history", logs=logs)
        observed: dict[str, dict[str, Any]] = {}
        for ns, plane in PLANES.items():
            published = published_alerts(kafka, f"{ids[ns]}.alerts")
            assert published, f"{ns}: the processor published no alert (anomaly rate 0.2)"
            stored = partial(lambda s, p: alert_fingerprints(dsn, s) >= p, ids[ns], published)
            wait_for(stored, 90, f"{ns}: its alerts stored", logs=logs)
            observed[ns] = {
                "redis readings": readings_in_redis(redis_client, ids[ns]),
                "redis sensors": sensors_in_redis(redis_client, ids[ns]),
                "history": history(dsn, ids[ns]),
                "alerts": alert_fingerprints(dsn, ids[ns]),
                "alert rows": alert_rows(dsn, ids[ns]),
                "published": published,
                "sensors": plane["sensors"],
                "total": plane["sensors"] * plane["ticks"],
            }
        for ns, seen in observed.items():
            # exactly its own readings, sensors, history and alerts: the other plane's would change each count
            assert seen["redis readings"] == seen["total"], ns
            assert len(seen["redis sensors"]) == seen["sensors"], ns  # same ids in both planes: the count tells
            assert seen["history"] == (seen["total"], seen["redis sensors"]), ns
            assert seen["alerts"] == seen["published"], ns
        a, b = observed["team-a"], observed["team-b"]
        assert a["alerts"] != b["alerts"]
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        groups = {g.group_id for g in admin.list_consumer_groups().result().valid}
        for ns in PLANES:
            assert {f"{ids[ns]}.processor", f"{ids[ns]}.history", f"{ids[ns]}.alerts"} <= groups
        # and the API of each identity shows only its own plane
        for ns, seen in observed.items():
            settings = ApiSettings(site=ids[ns], redis_url=redis_server.url, postgres_dsn=dsn, rate_limit_rps=0)
            with TestClient(create_app(settings)) as client:
                assert client.get("/api/v1/sensors", params={"limit": 1}).json()["total"] == seen["sensors"]
                assert client.get("/api/v1/alerts", params={"limit": 1}).json()["total"] == seen["alert rows"]
        for w in workloads:
            assert w.alive() or w.name == "simulator", f"{w.log_path.name} exited:\n{w.log()[-3000:]}"
    finally:
        for w in workloads:
            w.stop()
