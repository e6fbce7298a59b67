"""PostgreSQL writer of the rollups: offset ledger, COPY into a stage table, order-independent merging upsert."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.db.ledger import OffsetLedger, next_offsets
from gridwatch.common.schema import EnrichedBatch
from gridwatch.history.rollup import COLUMNS, Rollups, rollup

CONSUMER = "history"
LEDGER = OffsetLedger(CONSUMER)

_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS gw_history_stage (
    sensor_id text, sensor_type text, minute double precision, readings integer, anomalies integer,
    value_sum double precision, value_min double precision, value_max double precision,
    first_ts double precision, first_value double precision, last_ts double precision, last_value double precision,
    energy_kwh double precision, fp_sum double precision, fp_max double precision, score_max double precision
) ON COMMIT DELETE ROWS
"""

# Every column merges by sum, min/max or by the reading with the smaller/larger timestamp: the result is the
# same whatever order the partial aggregates of a (sensor, minute) arrive in (floating-point sums up to rounding).
# The same statement adds the batch's per-type totals to gw_history_type_minute, counting the per-sensor rows
# it created as the minute's new reporting sensors.
_UPSERT = """
WITH merged AS (
    INSERT INTO gw_history_minute AS t (
        site, sensor_id, sensor_type, minute, readings, anomalies, value_sum, value_min, value_max,
        first_ts, first_value, last_ts, last_value, energy_kwh, fp_sum, fp_max, score_max)
    SELECT %(site)s, sensor_id, sensor_type, to_timestamp(minute), readings, anomalies, value_sum, value_min,
        value_max, first_ts, first_value, last_ts, last_value, energy_kwh, fp_sum, fp_max, score_max
    FROM gw_history_stage
    ON CONFLICT (site, sensor_id, minute) DO UPDATE SET
        readings = t.readings + EXCLUDED.readings,
        anomalies = t.anomalies + EXCLUDED.anomalies,
        value_sum = t.value_sum + EXCLUDED.value_sum,
        value_min = LEAST(t.value_min, EXCLUDED.value_min),
        value_max = GREATEST(t.value_max, EXCLUDED.value_max),
        first_ts = LEAST(t.first_ts, EXCLUDED.first_ts),
        first_value = CASE WHEN EXCLUDED.first_ts < t.first_ts THEN EXCLUDED.first_value ELSE t.first_value END,
        last_ts = GREATEST(t.last_ts, EXCLUDED.last_ts),
        last_value = CASE WHEN EXCLUDED.last_ts > t.last_ts THEN EXCLUDED.last_value ELSE t.last_value END,
        energy_kwh = t.energy_kwh + EXCLUDED.energy_kwh,
        fp_sum = t.fp_sum + EXCLUDED.fp_sum,
        fp_max = GREATEST(t.fp_max, EXCLUDED.fp_max),
        score_max = GREATEST(t.score_max, EXCLUDED.score_max)
    RETURNING sensor_type, minute, (xmax = 0)::integer AS created  -- xmax is 0 for a freshly inserted row
), fresh AS (
    SELECT sensor_type, minute, sum(created) AS sensors FROM merged GROUP BY sensor_type, minute
), totals AS (
    SELECT sensor_type, to_timestamp(minute) AS minute, sum(readings) AS readings, sum(anomalies) AS anomalies,
        sum(value_sum) AS value_sum, min(value_min) AS value_min, max(value_max) AS value_max,
        sum(energy_kwh) AS energy_kwh
    FROM gw_history_stage GROUP BY sensor_type, minute
)
INSERT INTO gw_history_type_minute AS t (
    site, sensor_type, minute, sensors, readings, anomalies, value_sum, value_min, value_max, energy_kwh)
SELECT %(site)s, x.sensor_type, x.minute, f.sensors, x.readings, x.anomalies, x.value_sum, x.value_min,
    x.value_max, x.energy_kwh
FROM totals x JOIN fresh f ON f.sensor_type = x.sensor_type AND f.minute = x.minute
ON CONFLICT (site, sensor_type, minute) DO UPDATE SET
    sensors = t.sensors + EXCLUDED.sensors,
    readings = t.readings + EXCLUDED.readings,
    anomalies = t.anomalies + EXCLUDED.anomalies,
    value_sum = t.value_sum + EXCLUDED.value_sum,
    value_min = LEAST(t.value_min, EXCLUDED.value_min),
    value_max = GREATEST(t.value_max, EXCLUDED.value_max),
    energy_kwh = t.energy_kwh + EXCLUDED.energy_kwh
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

    def __init__(self, conn: psycopg.Connection[TupleRow], site: str) -> None:
        self.conn = conn
        self.site = site

    def write(self, topic: str, records: Sequence[Record], min_ts: float = 0.0, dedupe: bool = False) -> WriteResult:
        """Apply the records not applied before (by offset), all or nothing.

        With `dedupe`, readings at or before their sensor's newest stored reading are dropped as repeats: the
        processor publishes each sensor's readings to one partition in time order, and republishes some after a
        crash between publishing and writing Redis (docs/reliability.md#no-lost-batch).
        """
        conn = self.conn
        partitions = sorted({r.partition for r in records})
        with conn.transaction():
            conn.execute(_STAGE)
            start = LEDGER.claim(conn, topic, partitions)
            fresh = [r for r in records if r.offset >= start[r.partition]]
            batches = [r.batch for r in fresh]
            repeats = 0
            if dedupe and batches:
                batches, repeats = self._drop_stored(batches)
            rolled = rollup(batches, min_ts)
            if len(rolled):
                self._merge(rolled)
            LEDGER.advance(conn, topic, next_offsets((r.partition, r.offset) for r in fresh))
        return WriteResult(
            applied=len(fresh),
            skipped=len(records) - len(fresh),
            readings=int(rolled.readings.sum()),
            rows=len(rolled),
            duplicates=rolled.duplicates + repeats,
        )

    def _drop_stored(self, batches: list[EnrichedBatch]) -> tuple[list[EnrichedBatch], int]:
        """The batches without readings at or before their sensor's newest stored reading; and how many went.

        Only rows from the batch's first minute on can hold a newer reading, so the look-up stays within the
        newest partitions and the rows just written (cheap next to the upsert that follows).
        """
        starts = [min(b.ts) for b in batches if b.ts]
        if not starts:
            return batches, 0
        ids = sorted({sid for b in batches for sid in b.sensor_ids})
        newest: dict[str, float] = dict(
            self.conn.execute(
                """
                SELECT sensor_id, max(last_ts) FROM gw_history_minute
                WHERE site = %s AND minute >= to_timestamp(%s) AND sensor_id = ANY(%s::text[])
                GROUP BY sensor_id
                """,
                (self.site, math.floor(min(starts) / 60.0) * 60.0, ids),
            ).fetchall()
        )
        if not newest:
            return batches, 0
        out: list[EnrichedBatch] = []
        dropped = 0
        for b in batches:
            marks = np.fromiter((newest.get(sid, -math.inf) for sid in b.sensor_ids), np.float64, len(b.sensor_ids))
            keep = np.asarray(b.ts, dtype=np.float64) > marks
            if keep.all():
                out.append(b)
                continue
            rows = np.flatnonzero(keep).tolist()
            dropped += len(b.sensor_ids) - len(rows)
            out.append(
                msgspec.structs.replace(
                    b,
                    **{
                        name: [getattr(b, name)[i] for i in rows]
                        for name in (
                            "sensor_ids",
                            "types",
                            "ts",
                            "values",
                            "score",
                            "anomaly",
                            "failure_probability",
                            "status",
                            "label",
                            "energy_kwh",
                        )
                    },
                )
            )
        return out, dropped

    def _merge(self, rolled: Rollups) -> None:
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY gw_history_stage ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rolled.rows():
                    copy.write_row(row)
            cur.execute(_UPSERT, {"site": self.site})

    def forget_ahead(self, topic: str, partition: int, high: int) -> bool:
        """Drop a ledger entry that is past the log end (the topic was recreated); True if dropped."""
        return LEDGER.forget_ahead(self.conn, topic, partition, high)
