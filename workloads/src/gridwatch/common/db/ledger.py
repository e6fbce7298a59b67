"""The offset ledger: a consumer's Kafka positions stored in the transaction that applies their records.

A consumer that writes PostgreSQL claims its partitions' next offsets (locking them), applies only the records
at or past them, and advances the ledger in the same transaction; a replayed record is recognised by its offset
and skipped, so the effect is exactly once whatever Kafka redelivers. Table: migrations/001_kafka_offsets.sql.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import psycopg
from psycopg.rows import TupleRow

_CLAIM_NEW = """
INSERT INTO gw_kafka_offsets (consumer, topic, partition, next_offset)
SELECT %s, %s, p, 0 FROM unnest(%s::integer[]) AS p
ON CONFLICT DO NOTHING
"""
_CLAIM = """
SELECT partition, next_offset FROM gw_kafka_offsets
WHERE consumer = %s AND topic = %s AND partition = ANY(%s::integer[])
ORDER BY partition FOR UPDATE
"""
_ADVANCE = """
UPDATE gw_kafka_offsets o SET next_offset = GREATEST(o.next_offset, e.next), updated_at = now()
FROM unnest(%s::integer[], %s::bigint[]) AS e(p, next)
WHERE o.consumer = %s AND o.topic = %s AND o.partition = e.p
"""
_FORGET_AHEAD = """
DELETE FROM gw_kafka_offsets WHERE consumer = %s AND topic = %s AND partition = %s AND next_offset > %s
"""


def next_offsets(positions: Iterable[tuple[int, int]]) -> dict[int, int]:
    """The ledger entries that (partition, offset) pairs applied: per partition, the highest offset + 1."""
    ends: dict[int, int] = {}
    for partition, offset in positions:
        ends[partition] = max(ends.get(partition, -1), offset + 1)
    return ends


class OffsetLedger:
    """One consumer's rows of gw_kafka_offsets (e.g. OffsetLedger("history")); methods run in the caller's
    transaction unless they say otherwise."""

    def __init__(self, consumer: str) -> None:
        if not consumer:
            raise ValueError("the offset ledger needs a consumer name")
        self.consumer = consumer

    def claim(self, conn: psycopg.Connection[TupleRow], topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """Lock and return the next offset to apply per partition (0 for a partition never seen)."""
        parts = sorted(set(partitions))
        conn.execute(_CLAIM_NEW, (self.consumer, topic, parts))
        rows = conn.execute(_CLAIM, (self.consumer, topic, parts)).fetchall()
        return {int(p): int(o) for p, o in rows}

    def advance(self, conn: psycopg.Connection[TupleRow], topic: str, ends: Mapping[int, int]) -> None:
        """Record the next offsets to apply; an entry never moves backwards."""
        if ends:
            conn.execute(_ADVANCE, (list(ends), list(ends.values()), self.consumer, topic))

    def forget_ahead(self, conn: psycopg.Connection[TupleRow], topic: str, partition: int, high: int) -> bool:
        """In its own transaction: drop an entry past the log end `high` (the topic was recreated); True if it was."""
        with conn.transaction():
            return conn.execute(_FORGET_AHEAD, (self.consumer, topic, partition, high)).rowcount > 0
