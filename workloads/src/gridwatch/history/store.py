"""PostgreSQL writer of the rollups: offset ledger, COPY into a stage table, merging upsert, energy edges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.schema import EnrichedBatch
from gridwatch.history.rollup import COLUMNS, Rollups, rollup

CONSUMER = "history"

_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS gw_history_stage (
    sensor_id text, sensor_type text, minute double precision, readings integer, anomalies integer,
    value_sum double precision, value_min double precision, value_max double precision,
    first_ts double precision, first_value double precision, last_ts double precision, last_value double precision,
    inner_kws double precision, fp_sum double precision, fp_max double precision, score_max double precision
) ON COMMIT DELETE ROWS
"""

# Merging two partial aggregates of one (sensor, minute) is order independent for counts, sums, min, max,
# first and last. The power integral is exact when the two cover disjoint time ranges (the normal case:
# each sensor's readings come from one processor in time order) by adding the step between them; when
# they overlap, the time is already integrated and only the stored integral is kept.
_UPSERT = """
INSERT INTO gw_history_minute AS t (
    site, sensor_id, sensor_type, minute, readings, anomalies, value_sum, value_min, value_max,
    first_ts, first_value, last_ts, last_value, inner_kws, fp_sum, fp_max, score_max)
SELECT %(site)s, sensor_id, sensor_type, to_timestamp(minute), readings, anomalies, value_sum, value_min, value_max,
    first_ts, first_value, last_ts, last_value, inner_kws, fp_sum, fp_max, score_max
FROM gw_history_stage
ON CONFLICT (site, sensor_id, minute) DO UPDATE SET
    readings = t.readings + EXCLUDED.readings,
    anomalies = t.anomalies + EXCLUDED.anomalies,
    value_sum = t.value_sum + EXCLUDED.value_sum,
    value_min = LEAST(t.value_min, EXCLUDED.value_min),
    value_max = GREATEST(t.value_max, EXCLUDED.value_max),
    inner_kws = CASE
        WHEN EXCLUDED.first_ts > t.last_ts THEN t.inner_kws + EXCLUDED.inner_kws
            + CASE WHEN t.sensor_type = 'power'
                   THEN EXCLUDED.first_value * LEAST(EXCLUDED.first_ts - t.last_ts, %(gap)s) ELSE 0 END
        WHEN EXCLUDED.last_ts < t.first_ts THEN t.inner_kws + EXCLUDED.inner_kws
            + CASE WHEN t.sensor_type = 'power'
                   THEN t.first_value * LEAST(t.first_ts - EXCLUDED.last_ts, %(gap)s) ELSE 0 END
        ELSE t.inner_kws END,
    first_ts = LEAST(t.first_ts, EXCLUDED.first_ts),
    first_value = CASE WHEN EXCLUDED.first_ts < t.first_ts THEN EXCLUDED.first_value ELSE t.first_value END,
    last_ts = GREATEST(t.last_ts, EXCLUDED.last_ts),
    last_value = CASE WHEN EXCLUDED.last_ts > t.last_ts THEN EXCLUDED.last_value ELSE t.last_value END,
    fp_sum = t.fp_sum + EXCLUDED.fp_sum,
    fp_max = GREATEST(t.fp_max, EXCLUDED.fp_max),
    score_max = GREATEST(t.score_max, EXCLUDED.score_max)
"""

# The first reading of a power row is integrated from the previous row's last reading (within the
# look-back); touched rows and the next row of each touched sensor get their edge recomputed, so a
# minute that arrives late fixes its successor too.
_EDGES = """
WITH touched AS (
    SELECT DISTINCT sensor_id, to_timestamp(minute) AS minute FROM gw_history_stage WHERE sensor_type = 'power'
), targets AS (
    SELECT sensor_id, minute FROM touched
    UNION
    SELECT t.sensor_id, n.minute FROM touched t
    CROSS JOIN LATERAL (
        SELECT r.minute FROM gw_history_minute r
        WHERE r.site = %(site)s AND r.sensor_id = t.sensor_id
          AND r.minute > t.minute AND r.minute <= t.minute + %(lookback)s * interval '1 second'
        ORDER BY r.minute LIMIT 1
    ) n
), calc AS (
    SELECT r.sensor_id, r.minute, COALESCE(p.kws, 0) AS edge
    FROM targets x
    JOIN gw_history_minute r ON r.site = %(site)s AND r.sensor_id = x.sensor_id AND r.minute = x.minute
    LEFT JOIN LATERAL (
        SELECT r.first_value * LEAST(r.first_ts - q.last_ts, %(gap)s) AS kws FROM gw_history_minute q
        WHERE q.site = r.site AND q.sensor_id = r.sensor_id
          AND q.minute < r.minute AND q.minute >= r.minute - %(lookback)s * interval '1 second'
        ORDER BY q.minute DESC LIMIT 1
    ) p ON true
)
UPDATE gw_history_minute r SET edge_kws = c.edge FROM calc c
WHERE r.site = %(site)s AND r.sensor_id = c.sensor_id AND r.minute = c.minute AND r.edge_kws IS DISTINCT FROM c.edge
"""


@dataclass(frozen=True)
class Record:
    """One consumed Kafka record holding an enriched batch."""

    partition: int
    offset: int
    batch: EnrichedBatch


@dataclass(frozen=True)
class WriteResult:
    """What one transaction applied."""

    applied: int
    skipped: int
    readings: int
    rows: int
    duplicates: int


class HistoryStore:
    """Writes rollups of one site; every write is one transaction with the offsets it consumed."""

    def __init__(self, conn: psycopg.Connection[TupleRow], site: str, max_gap_s: float) -> None:
        self.conn = conn
        self.site = site
        self.gap = max_gap_s
        self.lookback = max_gap_s + 60.0

    def write(self, topic: str, records: Sequence[Record], min_ts: float = 0.0) -> WriteResult:
        """Apply the records not applied before (by offset), all or nothing."""
        conn = self.conn
        partitions = sorted({r.partition for r in records})
        with conn.transaction():
            conn.execute(_STAGE)
            conn.execute(
                """
                INSERT INTO gw_kafka_offsets (consumer, topic, partition, next_offset)
                SELECT %s, %s, p, 0 FROM unnest(%s::integer[]) AS p
                ON CONFLICT DO NOTHING
                """,
                (CONSUMER, topic, partitions),
            )
            rows = conn.execute(
                """
                SELECT partition, next_offset FROM gw_kafka_offsets
                WHERE consumer = %s AND topic = %s AND partition = ANY(%s::integer[])
                ORDER BY partition FOR UPDATE
                """,
                (CONSUMER, topic, partitions),
            ).fetchall()
            start = {int(p): int(o) for p, o in rows}
            fresh = [r for r in records if r.offset >= start[r.partition]]
            rolled = rollup([r.batch for r in fresh], self.gap, min_ts)
            if len(rolled):
                self._merge(rolled)
            ends: dict[int, int] = {}
            for r in fresh:
                ends[r.partition] = max(ends.get(r.partition, -1), r.offset + 1)
            if ends:
                conn.execute(
                    """
                    UPDATE gw_kafka_offsets o SET next_offset = GREATEST(o.next_offset, e.next), updated_at = now()
                    FROM unnest(%s::integer[], %s::bigint[]) AS e(p, next)
                    WHERE o.consumer = %s AND o.topic = %s AND o.partition = e.p
                    """,
                    (list(ends), list(ends.values()), CONSUMER, topic),
                )
        return WriteResult(
            applied=len(fresh),
            skipped=len(records) - len(fresh),
            readings=int(rolled.readings.sum()),
            rows=len(rolled),
            duplicates=rolled.duplicates,
        )

    def _merge(self, rolled: Rollups) -> None:
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY gw_history_stage ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rolled.rows():
                    copy.write_row(row)
            params = {"site": self.site, "gap": self.gap, "lookback": self.lookback}
            cur.execute(_UPSERT, params)
            cur.execute(_EDGES, params)

    def forget_ahead(self, topic: str, partition: int, high: int) -> bool:
        """Drop a ledger entry that is past the log end (the topic was recreated); True if dropped."""
        with self.conn.transaction():
            cur = self.conn.execute(
                "DELETE FROM gw_kafka_offsets"
                " WHERE consumer = %s AND topic = %s AND partition = %s AND next_offset > %s",
                (CONSUMER, topic, partition, high),
            )
            return cur.rowcount > 0
