"""The offset ledger (gridwatch.common.db) on a real PostgreSQL: claims, advances and forgets per consumer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from gridwatch.common.db import OffsetLedger, connect, migrate, next_offsets, pool
from psycopg.rows import TupleRow

from tests.infra.services import Postgres

Conn = psycopg.Connection[TupleRow]


@pytest.fixture
def conn(postgres: Postgres) -> Iterator[Conn]:
    with connect(postgres.dsn, "test-ledger") as c:
        migrate(c)
        yield c


def test_next_offsets_is_one_past_the_highest_offset_per_partition() -> None:
    assert next_offsets([(0, 5), (1, 2), (0, 3), (0, 9)]) == {0: 10, 1: 3}
    assert next_offsets([]) == {}


def test_a_new_partition_starts_at_zero_and_advances_in_the_same_transaction(conn: Conn) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    ledger = OffsetLedger("history")
    with conn.transaction():
        assert ledger.claim(conn, topic, [1, 0, 1]) == {0: 0, 1: 0}
        ledger.advance(conn, topic, {0: 7, 1: 3})
    with conn.transaction():
        assert ledger.claim(conn, topic, [0, 1, 2]) == {0: 7, 1: 3, 2: 0}
        ledger.advance(conn, topic, {0: 4})  # a replayed, older batch never moves an entry backwards
    with conn.transaction():
        assert ledger.claim(conn, topic, [0]) == {0: 7}


def test_a_rolled_back_transaction_leaves_the_ledger_where_it_was(conn: Conn) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    ledger = OffsetLedger("alerts")
    with conn.transaction():
        ledger.claim(conn, topic, [0])
        ledger.advance(conn, topic, {0: 5})

    class Boom(Exception):
        pass

    with pytest.raises(Boom), conn.transaction():
        ledger.advance(conn, topic, {0: 50})
        raise Boom
    with conn.transaction():
        assert ledger.claim(conn, topic, [0]) == {0: 5}


def test_consumers_keep_separate_positions_on_one_topic(conn: Conn) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    history, alerts = OffsetLedger("history"), OffsetLedger("alerts")
    with conn.transaction():
        history.claim(conn, topic, [0])
        history.advance(conn, topic, {0: 11})
    with conn.transaction():
        assert alerts.claim(conn, topic, [0]) == {0: 0}
        assert history.claim(conn, topic, [0]) == {0: 11}


def test_forget_ahead_drops_only_an_entry_past_the_log_end(conn: Conn) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    ledger = OffsetLedger("history")
    with conn.transaction():
        ledger.claim(conn, topic, [0, 1])
        ledger.advance(conn, topic, {0: 10, 1: 10})
    assert ledger.forget_ahead(conn, topic, 0, high=3)  # topic recreated: its log ends at 3
    assert not ledger.forget_ahead(conn, topic, 1, high=10)
    with conn.transaction():
        assert ledger.claim(conn, topic, [0, 1]) == {0: 0, 1: 10}


def test_the_pool_hands_out_autocommit_connections_named_after_the_workload(postgres: Postgres) -> None:
    with pool(postgres.dsn, "test-pool", max_size=2) as p, p.connection() as c:
        assert c.autocommit
        row = c.execute("SELECT current_setting('application_name')").fetchone()
        assert row == ("gridwatch-test-pool",)


def test_an_empty_consumer_name_is_refused() -> None:
    with pytest.raises(ValueError, match="consumer"):
        OffsetLedger("")
