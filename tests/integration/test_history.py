"""History against real Kafka, Redis and PostgreSQL: rollups match the stream, replays change nothing."""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
import redis
from confluent_kafka import Consumer
from gridwatch.common.db.migrate import connect, load, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import EnrichedBatch, decode
from gridwatch.history import partitions
from gridwatch.history.store import HistoryStore, Record

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, free_port, wait_for

SENSORS = 60
T0 = 1_800_000_000.0 - (1_800_000_000.0 % 60)  # a minute boundary (2027)
TICKS = 300
# The summary rounds each type's energy and the total to 6 decimals (kWh): up to half a unit each.
KWH_ROUNDING = 5e-7
COLUMNS = "sensor_id, minute, readings, anomalies, value_sum, value_min, value_max, first_ts, last_ts, last_value"


def rows(dsn: str, site: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT {COLUMNS}, energy_kwh FROM gw_history_minute WHERE site = %s ORDER BY 1, 2", (site,)
        ).fetchall()


def type_totals(dsn: str, site: str) -> list[tuple[Any, ...]]:
    """The writer's per-type totals next to the same totals computed from the per-sensor rows."""
    with psycopg.connect(dsn) as conn:
        kept = conn.execute(
            "SELECT sensor_type, minute, sensors, readings, anomalies, value_min, value_max, value_sum, energy_kwh"
            " FROM gw_history_type_minute WHERE site = %s ORDER BY 1, 2",
            (site,),
        ).fetchall()
        computed = conn.execute(
            "SELECT sensor_type, minute, count(*), sum(readings), sum(anomalies), min(value_min), max(value_max),"
            " sum(value_sum), sum(energy_kwh) FROM gw_history_minute WHERE site = %s GROUP BY 1, 2 ORDER BY 1, 2",
            (site,),
        ).fetchall()
    assert kept, f"no per-type totals for {site}"
    assert [r[:7] for r in kept] == [r[:7] for r in computed]
    for k, c in zip(kept, computed, strict=True):
        assert k[7] == pytest.approx(c[7], rel=1e-12) and k[8] == pytest.approx(c[8], rel=1e-12, abs=1e-12)
    return kept


def stored_readings(dsn: str, site: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(sum(readings), 0) FROM gw_history_minute WHERE site = %s", (site,))
        return int(row.fetchone()[0])  # type: ignore[index]


def drain(kafka: Kafka, topic: str, expected: int) -> list[tuple[int, int, EnrichedBatch]]:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"check-{time.time()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out: list[tuple[int, int, EnrichedBatch]] = []
    seen = 0
    deadline = time.monotonic() + 180  # a loaded CI machine can be slow to join the group
    try:
        while seen < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 1.0):
                if msg.error():
                    continue
                batch = decode(msg.value() or b"")
                assert isinstance(batch, EnrichedBatch)
                out.append((int(msg.partition() or 0), int(msg.offset() or 0), batch))
                seen += len(batch.sensor_ids)
    finally:
        consumer.close()
    return out


def split(b: EnrichedBatch, size: int) -> list[EnrichedBatch]:
    """Consecutive slices of a batch (each sensor's readings stay contiguous in time, as the processor sorts them)."""
    fields = [f for f in EnrichedBatch.__struct_fields__ if f not in ("schema_version", "site")]
    n = len(b.sensor_ids)
    return [msgspec.structs.replace(b, **{f: getattr(b, f)[i : i + size] for f in fields}) for i in range(0, n, size)]


def metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{"))


def test_rollups_match_the_stream_and_replays_change_nothing(
    base_env: dict[str, str], postgres: Postgres, kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    dsn = postgres.dsn
    with connect(dsn, "test") as conn:
        migrate(conn)  # so the checks below can query before the workloads have migrated
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": dsn}
    api_port, hist_port = free_port(), free_port()
    sim = Workload(
        "simulator",
        {
            **env,
            "GRIDWATCH_SIM_SENSORS": str(SENSORS),
            "GRIDWATCH_SIM_RATE": "6000",
            "GRIDWATCH_SIM_MAX_TICKS": str(TICKS),
            "GRIDWATCH_SIM_ANOMALY_RATE": "0.05",
            "GRIDWATCH_METRICS_PORT": str(free_port()),
        },
        tmp_path,
    )
    proc = Workload("processor", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    hist = Workload("history", {**env, "GRIDWATCH_METRICS_PORT": str(hist_port)}, tmp_path)
    api = Workload("api", {**env, "GRIDWATCH_API_PORT": str(api_port)}, tmp_path)
    workloads = (proc, hist, api, sim)
    for w in workloads:
        w.start()
    total = SENSORS * TICKS
    try:
        wait_for(lambda: stored_readings(dsn, site) >= total, 120, f"{total} readings in history", logs=workloads)
        assert sim.wait() == 0
        batches = drain(kafka, f"{site}.enriched", total)
        # expected rollups straight from the enriched stream
        expected: dict[tuple[str, float], list[float]] = {}
        for _, _, b in batches:
            for sid, ts, v, a in zip(b.sensor_ids, b.ts, b.values, b.anomaly, strict=True):
                key = (sid, math.floor(ts / 60) * 60.0)
                e = expected.setdefault(key, [0, 0, 0.0, math.inf, -math.inf, math.inf, -math.inf, 0.0])
                e[0] += 1
                e[1] += int(a)
                e[2] += v
                e[3], e[4] = min(e[3], v), max(e[4], v)
                e[5] = min(e[5], ts)
                if ts > e[6]:
                    e[6], e[7] = ts, v
        got = rows(dsn, site)
        assert len(got) == len(expected)
        for sid, minute, n, anomalies, vsum, vmin, vmax, first_ts, last_ts, last_value, _ in got:
            e = expected[(sid, minute.timestamp())]
            assert (n, anomalies, vmin, vmax, first_ts, last_ts, last_value) == (
                e[0], e[1], e[3], e[4], e[5], e[6], e[7]
            )  # fmt: skip
            assert vsum == pytest.approx(e[2], rel=1e-12)
        energy = sum(r[-1] for r in got)
        redis_energy = float(redis_client.hget(Keys(site).aggregates, "energy_kwh") or 0)
        assert energy > 0 and energy == pytest.approx(redis_energy, rel=1e-9)  # the processor's own integration
        # each sensor's scored readings sit in one partition, in time order: consumers see them in order
        where: dict[str, set[int]] = defaultdict(set)
        newest: dict[str, float] = {}
        for partition, _, b in batches:
            for sid, ts in zip(b.sensor_ids, b.ts, strict=True):
                where[sid].add(partition)
                assert ts > newest.get(sid, 0.0), (sid, ts, newest.get(sid))
                newest[sid] = ts
        assert len(where) == SENSORS and all(len(p) == 1 for p in where.values())
        assert len({p for ps in where.values() for p in ps}) > 1  # spread over the topic's partitions

        totals = type_totals(dsn, site)  # per-type totals agree with the per-sensor rows
        assert sum(r[3] for r in totals) == total

        # --- the API over the same rows
        base = f"http://127.0.0.1:{api_port}"
        fr, to = min(m.timestamp() for _, m, *_ in got), max(m.timestamp() for _, m, *_ in got) + 60
        one = got[0][0]
        series = httpx.get(
            f"{base}/api/analytics/history", params={"sensor": one, "metric": "readings", "from": fr, "to": to}
        ).json()
        assert series["sensor"] == one and series["step"] == 60 and series["metric"] == "readings"
        assert sum(p["value"] for p in series["points"]) == TICKS
        assert all(p["ts"] % 60 == 0 for p in series["points"])
        site_energy = httpx.get(
            f"{base}/api/analytics/history", params={"metric": "energy_kwh", "from": fr, "to": to, "step": 3600}
        ).json()
        assert sum(p["value"] for p in site_energy["points"]) == pytest.approx(energy, rel=1e-9)
        power = httpx.get(
            f"{base}/api/analytics/history",
            params={"type": "power", "metric": "max", "from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(fr))},
        ).json()
        power_max = max(r[6] for r in got if r[0].endswith("-power"))
        assert max(p["value"] for p in power["points"]) == power_max
        mean = httpx.get(
            f"{base}/api/analytics/history", params={"sensor": one, "metric": "mean", "from": fr, "to": to, "step": 600}
        ).json()
        mine = [r for r in got if r[0] == one]
        assert len(mean["points"]) == 1
        assert mean["points"][0]["value"] == pytest.approx(sum(r[4] for r in mine) / sum(r[2] for r in mine))
        summary = httpx.get(f"{base}/api/analytics/summary", params={"from": fr, "to": to}).json()
        assert summary["total_readings"] == total and summary["total_energy_kwh"] == pytest.approx(
            energy, rel=1e-6, abs=KWH_ROUNDING * (len(summary["types"]) + 1)
        )
        assert {t["type"]: t["sensors"] for t in summary["types"]}["power"] == SENSORS // 6
        cases: list[tuple[dict[str, str | int], str]] = [
            ({"metric": "median"}, "metric"),
            ({"metric": "mean"}, "type= or sensor="),
            ({"type": "power", "step": 90}, "multiple of 60"),
            ({"type": "power", "from": 2000, "to": 1000}, "before"),
            ({"type": "power", "from": "last tuesday"}, "ISO 8601"),
            ({"type": "power", "from": 0, "to": 10**9, "step": 60}, "at most"),
        ]
        for params, needle in cases:
            bad = httpx.get(f"{base}/api/analytics/history", params=params)
            assert bad.status_code == 422 and needle in bad.text, (params, bad.text)

        # --- replay: the same group rewinds (committed offsets lost), a new writer reads everything again
        before = rows(dsn, site)
        hist.stop()
        applied_records = len(batches)
        hist2 = Workload(
            "history",
            {**env, "GRIDWATCH_METRICS_PORT": str(hist_port), "GRIDWATCH_HISTORY_GROUP": f"{site}.history-replay"},
            tmp_path,
        ).start()
        try:
            wait_for(
                lambda: metric(hist_port, "gridwatch_history_replayed_messages_total") >= applied_records,
                60,
                "the replay to be read",
                logs=(hist2,),
            )
            assert metric(hist_port, "gridwatch_history_readings_total") == 0
        finally:
            hist2.stop()
        assert rows(dsn, site) == before
        assert type_totals(dsn, site) == totals
    finally:
        for w in workloads:
            w.stop()


def test_merging_is_order_independent_and_partitions_rotate(
    postgres: Postgres, kafka: Kafka, base_env: dict[str, str], site: str, tmp_path: Path
) -> None:
    """The same records written at once, one by one in reverse or in random groups give the same rows.

    Kafka orders nothing across partitions, and a replayed or rebalanced partition can deliver a sensor's
    minute in pieces: every merge must give the same row whatever the order. Retention drops whole days.
    """
    env = {**base_env, "GRIDWATCH_POSTGRES_DSN": postgres.dsn}
    sim = Workload(
        "simulator",
        {**env, "GRIDWATCH_SIM_SENSORS": "12", "GRIDWATCH_SIM_RATE": "1200", "GRIDWATCH_SIM_MAX_TICKS": "400"},
        tmp_path,
    )
    # its own probe port: sharing the simulator's made whichever started second fail to bind and exit
    proc = Workload("processor", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path)
    sim.start()
    proc.start()
    try:
        assert sim.wait(60) == 0
        records = drain(kafka, f"{site}.enriched", 12 * 400)
    finally:
        proc.stop()
        sim.stop()
    # every chunk on its own partition: arrival order across partitions is what Kafka does not guarantee
    records = [(i, 0, chunk) for i, chunk in enumerate(c for _, _, b in records for c in split(b, 37))]
    assert len(records) > 100
    conn = connect(postgres.dsn, "test")
    migrate(conn)
    kind = partitions.storage_kind(conn)
    days = {partitions.day_of(t) for _, _, b in records for t in (min(b.ts), max(b.ts))}
    if kind == "partitioned":
        partitions.ensure_days(conn, days)
    whole, single, shuffled = f"{site}-a", f"{site}-b", f"{site}-c"
    HistoryStore(conn, whole).write("t-a", [Record(p, o, b) for p, o, b in records])
    reverse = HistoryStore(conn, single)
    for p, o, b in reversed(records):
        assert reverse.write("t-b", [Record(p, o, b)]).applied == 1
        assert reverse.write("t-b", [Record(p, o, b)]).skipped == 1  # the ledger knows it
    mixed = list(records)
    random.Random(5).shuffle(mixed)
    groups = HistoryStore(conn, shuffled)
    for start in range(0, len(mixed), 5):
        assert groups.write("t-c", [Record(p, o, b) for p, o, b in mixed[start : start + 5]]).skipped == 0
    rows_a = rows(postgres.dsn, whole)
    exact = [(*r[:4], *r[5:-1]) for r in rows_a]  # all but the float sums (summation order differs)
    for other in (single, shuffled):
        rows_b = rows(postgres.dsn, other)
        assert exact == [(*r[:4], *r[5:-1]) for r in rows_b]
        for ra, rb in zip(rows_a, rows_b, strict=True):
            assert ra[4] == pytest.approx(rb[4], rel=1e-12)
            assert ra[-1] == pytest.approx(rb[-1], rel=1e-12, abs=1e-12)  # energy: a sum, equal up to rounding
    assert sum(r[-1] for r in rows_a) > 0
    totals_a = type_totals(postgres.dsn, whole)  # each also checks itself against its per-sensor rows
    for other in (single, shuffled):
        totals_b = type_totals(postgres.dsn, other)
        assert [r[:7] for r in totals_a] == [r[:7] for r in totals_b]
    assert sum(r[2] for r in rows_a) == 12 * 400
    by_sensor: dict[str, int] = defaultdict(int)
    for r in rows_a:
        by_sensor[r[0]] += r[2]
    assert set(by_sensor.values()) == {400}

    if kind == "partitioned":
        old_day = partitions.day_of(time.time()) - 40
        assert partitions.ensure_days(conn, [old_day]) == [partitions.partition_name(old_day)]
        dropped = partitions.drop_before(conn, kind, time.time() - 30 * 86400)
        assert partitions.partition_name(old_day) in dropped
        assert old_day not in partitions.existing_days(conn) and days <= partitions.existing_days(conn)
    conn.close()


def test_energy_migration_keeps_the_energy_of_existing_rows(postgres: Postgres) -> None:
    """A database written by the neighbour-integrating schema (001-003) keeps its energy, now in kWh."""
    name = f"gw_migration_{int(time.time() * 1000)}"
    with psycopg.connect(postgres.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    dsn = postgres.dsn.rsplit("/", 1)[0] + f"/{name}"
    with connect(dsn, "test") as conn:
        migrate(conn)  # everything; then roll the rollup table back to what 002 made, as before 004 existed
        conn.execute("DROP TABLE gw_history_minute")
        conn.execute("DELETE FROM schema_migrations WHERE version IN (2, 4)")
        (m002,) = [m for m in load() if m.version == 2]
        conn.execute(m002.sql.encode())
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (m002.version, m002.name, m002.checksum),
        )
        day = partitions.day_of(T0)
        partitions.ensure_days(conn, [day])
        conn.execute(
            """
            INSERT INTO gw_history_minute (site, sensor_id, sensor_type, minute, readings, anomalies, value_sum,
                value_min, value_max, first_ts, first_value, last_ts, last_value, inner_kws, edge_kws)
            VALUES ('s', 'm1-power', 'power', to_timestamp(%s), 60, 0, 600, 10, 10, %s, 10, %s, 10, 590, 10)
            """,
            (T0, T0, T0 + 59),
        )
        conn.execute("DROP TABLE gw_history_type_minute")
        conn.execute("DELETE FROM schema_migrations WHERE version = 5")
        assert migrate(conn) == ["004_reading_energy", "005_type_minute"]
        row = conn.execute("SELECT energy_kwh FROM gw_history_minute WHERE sensor_id = 'm1-power'").fetchone()
        assert row is not None and row[0] == pytest.approx(600 / 3600)
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'gw_history_minute'"
            )
        }
        assert "energy_kwh" in columns and not {"inner_kws", "edge_kws"} & columns
        totals = conn.execute(
            "SELECT sensor_type, sensors, readings, energy_kwh FROM gw_history_type_minute"
        ).fetchall()
        assert len(totals) == 1 and totals[0][:3] == ("power", 1, 60) and totals[0][3] == pytest.approx(600 / 3600)
        assert migrate(conn) == []
    with psycopg.connect(postgres.dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name}")
