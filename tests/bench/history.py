"""Time one history writer draining a site's enriched topic into PostgreSQL minute rollups.

The processor publishes every scored reading to `<site>.enriched` while the throughput phase drains the site's
readings; here one `gridwatch history` process (pinned like the processor) consumes that output with a fresh
consumer group and is timed until its offset ledger in PostgreSQL covers the topic. Each throughput drain
publishes the readings again, so the writer is started at the offsets the last drain began at (committed for
its group before it starts) and reads exactly one copy of the data set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, TopicPartition
from gridwatch.common import kafka
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.history.store import CONSUMER
from psycopg.rows import TupleRow

from tests.bench.prefill import Prefilled
from tests.bench.procs import Pinned, tree_cpu_seconds
from tests.bench.stack import BenchStack
from tests.bench.throughput import assigned

Offsets = dict[int, int]


@dataclass(frozen=True)
class HistoryDrain:
    """One drain of a data set's enriched readings by one history writer."""

    sensors: int
    readings: int  # sum(readings) of the site's rows afterwards: every reading of the data set, counted once
    rows: int  # (sensor, minute) rows written
    row_writes: int  # inserts + updates of those rows: above `rows` when a row was merged by several batches
    sensors_in_db: int
    messages: int  # enriched Kafka messages consumed
    seconds: float
    readings_per_s: float
    cpu_seconds: float  # the writer process
    cpu_s_per_million: float
    cpu_share: float
    postgres_cpu_seconds: float  # the postmaster and all its processes (backends included) over the same window
    postgres_cpu_s_per_million: float
    postgres_cpu_share: float
    peak_rss_mb: float
    startup_s: float


def enriched_topic(site: str) -> str:
    """The topic the processor publishes a site's scored readings to (the prefix is the site name)."""
    return f"{site}.enriched"


def end_offsets(bootstrap: str, topic: str, timeout: float = 10.0) -> Offsets:
    """High watermark of every partition of `topic`."""
    consumer = Consumer(kafka.consumer_config(bootstrap, "bench-history-watermarks", "bench-history"))
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
        out: Offsets = {}
        for p in sorted(meta.partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
            out[p] = int(high)
        return out
    finally:
        consumer.close()


def _commit_start(bootstrap: str, group: str, topic: str, start: Offsets) -> None:
    """Give a group that never ran committed offsets, so that its first member starts there."""
    consumer = Consumer(kafka.consumer_config(bootstrap, group, "bench-history-seek"))
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in start.items()], asynchronous=False)
    finally:
        consumer.close()


def _reset(conn: psycopg.Connection[TupleRow], site: str, topic: str) -> None:
    """Empty the site's rows and the writer's ledger of the topic, so the drain starts from nothing."""
    conn.execute("DELETE FROM gw_history_minute WHERE site = %s", (site,))
    conn.execute("DELETE FROM gw_kafka_offsets WHERE consumer = %s AND topic = %s", (CONSUMER, topic))
    conn.execute("VACUUM gw_history_minute")  # so that a repetition does not meet the dead rows of the last one


def _row_writes(conn: psycopg.Connection[TupleRow]) -> dict[int, int]:
    """Rows inserted + updated so far per partition of gw_history_minute (by relid), by PostgreSQL's statistics."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(
        "SELECT relid, n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname LIKE 'gw_history_minute%%'"
    ).fetchall()
    return {int(relid): int(n) for relid, n in rows}


def _writes_since(before: dict[int, int], after: dict[int, int]) -> int:
    """Row writes between two looks, partition by partition: a partition made since counts from 0, and one dropped
    since (the retention of old days, which the bench's site has no rows in) takes nothing away."""
    return sum(n - before.get(relid, 0) for relid, n in after.items())


def _wait_backend_gone(conn: psycopg.Connection[TupleRow], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gridwatch-history'")
        left = row.fetchone()
        if left is None or int(left[0]) == 0:
            return
        time.sleep(0.05)


def _ledger(conn: psycopg.Connection[TupleRow], topic: str) -> Offsets:
    rows = conn.execute(
        "SELECT partition, next_offset FROM gw_kafka_offsets WHERE consumer = %s AND topic = %s", (CONSUMER, topic)
    ).fetchall()
    return {int(p): int(o) for p, o in rows}


def drain(
    stack: BenchStack,
    filled: Prefilled,
    logdir: Path,
    start: Offsets | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 900.0,
    flush_interval_s: float = 0.0,
) -> HistoryDrain:
    """Run one writer from `start` (default: the topic's beginning) to the end of the site's enriched topic.

    The clock starts when the writer logs its partition assignment and stops when its offset ledger (written in
    the same transaction as the rows) reaches the topic's end on every partition. Afterwards the site's rows
    must hold exactly `filled.readings` readings, or the drain fails.

    The writer's collection window (GRIDWATCH_HISTORY_FLUSH_INTERVAL_S, 5 s by default, meant for live streams)
    is `flush_interval_s`, 0 unless given: a backlog fills 500-message writes without it, and at the end of a
    finite topic the window would only add its length of idle waiting to the clock.
    """
    site, topic = filled.site, enriched_topic(filled.site)
    bootstrap = stack.kafka.bootstrap
    high = end_offsets(bootstrap, topic)
    begin = {p: (start or {}).get(p, 0) for p in high}
    todo = {p: h for p, h in high.items() if h > begin[p]}
    if not todo:
        raise RuntimeError(f"{topic} holds nothing after {begin}: did the processor publish enriched readings?")
    postmaster = stack.postgres.pid
    if postmaster is None:
        raise RuntimeError("PostgreSQL is not running")
    conn = connect(stack.postgres.dsn, "bench")
    try:
        migrate(conn)
        _reset(conn, site, topic)
        group = f"bench-history-{site}-{time.time_ns()}"
        _commit_start(bootstrap, group, topic, begin)
        writes0 = _row_writes(conn)
        env = {
            **stack.history_env(site),
            "GRIDWATCH_HISTORY_GROUP": group,
            "GRIDWATCH_HISTORY_FLUSH_INTERVAL_S": str(flush_interval_s),
            **(extra_env or {}),
        }
        proc = Pinned.workload("history", env, logdir / f"history-{group}.log", stack.measured_cpu)
        launched = time.monotonic()
        proc.start()
        try:
            deadline = launched + timeout
            while not assigned(proc):
                _check(proc, deadline, "partitions assigned")
                time.sleep(0.02)
            t0 = time.monotonic()
            cpu0, pg0 = proc.cpu_seconds(), tree_cpu_seconds(postmaster)
            while True:
                ledger = _ledger(conn, topic)
                if all(ledger.get(p, 0) >= h for p, h in todo.items()):
                    break
                _check(proc, deadline, f"the offset ledger to reach {todo}")
                time.sleep(0.02)
            t1 = time.monotonic()
            cpu1, pg1 = proc.cpu_seconds(), tree_cpu_seconds(postmaster)
            rss = proc.peak_rss()
        finally:
            proc.stop()
        _wait_backend_gone(conn)  # an exiting backend reports its last statistics
        writes = _writes_since(writes0, _row_writes(conn))
        row = conn.execute(
            "SELECT coalesce(sum(readings), 0), count(*), count(DISTINCT sensor_id) FROM gw_history_minute"
            " WHERE site = %s",
            (site,),
        ).fetchone()
    finally:
        conn.close()
    assert row is not None
    readings, rows, sensors_in_db = int(row[0]), int(row[1]), int(row[2])
    if readings != filled.readings:
        raise RuntimeError(f"history holds {readings} readings of {site}, the data set has {filled.readings}")
    seconds, cpu, pg = t1 - t0, cpu1 - cpu0, pg1 - pg0
    return HistoryDrain(
        sensors=filled.sensors,
        readings=readings,
        rows=rows,
        row_writes=writes,
        sensors_in_db=sensors_in_db,
        messages=sum(h - begin[p] for p, h in todo.items()),
        seconds=round(seconds, 3),
        readings_per_s=round(readings / seconds, 1),
        cpu_seconds=round(cpu, 3),
        cpu_s_per_million=round(cpu / readings * 1e6, 3),
        cpu_share=round(cpu / seconds, 3),
        postgres_cpu_seconds=round(pg, 3),
        postgres_cpu_s_per_million=round(pg / readings * 1e6, 3),
        postgres_cpu_share=round(pg / seconds, 3),
        peak_rss_mb=round(rss / 2**20, 1),
        startup_s=round(t0 - launched, 3),
    )


def _check(proc: Pinned, deadline: float, what: str) -> None:
    if not proc.alive():
        raise RuntimeError(f"history writer exited while waiting for {what}:\n{proc.log()[-3000:]}")
    if time.monotonic() > deadline:
        raise TimeoutError(f"timed out waiting for {what}")
