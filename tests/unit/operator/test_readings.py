"""Lag in readings: readings per message from the wire format, counted when the lag fits the sample, else sampled."""

from __future__ import annotations

import msgspec
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, ReadingBatch, SensorType, encode
from gridwatch_operator.readings import Window, estimate, readings_in


def batch(n: int) -> bytes:
    """A gateway batch of n readings, encoded as the simulator does."""
    return encode(
        ReadingBatch(
            schema_version=SCHEMA_VERSION,
            site="gw.north",
            gateway="gw-0",
            seq=1,
            sensor_ids=[f"s{i}" for i in range(n)],
            machines=["m"] * n,
            types=[SensorType.POWER] * n,
            ts=[1.0] * n,
            values=[float(i) for i in range(n)],
        )
    )


def test_readings_are_counted_from_the_wire_format() -> None:
    assert readings_in(batch(500)) == 500
    assert readings_in(batch(1)) == 1
    beat = Heartbeat(
        schema_version=SCHEMA_VERSION, site="gw.north", producer="sim", ts=1.0, sensors=9, readings_sent=9, rate=1.0
    )
    assert readings_in(encode(beat)) == 0
    assert readings_in(b"x") == 0  # garbage the processor dead-letters carries no reading
    assert readings_in(None) == 0
    assert readings_in(msgspec.msgpack.encode({"msg": "readings", "values": "oops"})) == 0


def test_a_lag_that_fits_the_sample_is_counted_exactly() -> None:
    windows = {0: Window(10, 13), 1: Window(5, 5), 2: Window(0, 1)}
    lag = estimate(windows, {0: [500, 0, 120], 2: [7]})
    assert lag is not None
    assert (lag.readings, lag.messages, lag.method, lag.sampled_messages) == (627, 4, "exact", 4)
    assert lag.per_message == 156.8


def test_a_longer_lag_is_extrapolated_from_its_partitions_sample() -> None:
    # partition 0: 100 lagging messages, the newest 4 read (mean 250); partition 1: 2 messages, both read
    lag = estimate({0: Window(0, 100), 1: Window(40, 42)}, {0: [500, 0, 500, 0], 1: [3, 4]})
    assert lag is not None
    assert (lag.readings, lag.messages, lag.method) == (25_007, 102, "sampled")


def test_a_partition_without_a_sample_borrows_the_others_mean() -> None:
    lag = estimate({0: Window(0, 10), 1: Window(0, 10)}, {0: [100] * 10})
    assert lag is not None
    assert (lag.readings, lag.method) == (2_000, "sampled")


def test_no_lag_is_zero_readings_and_nothing_sampled_is_unknown() -> None:
    none = estimate({0: Window(3, 3), 1: Window(0, 0)}, {})
    assert none is not None
    assert (none.readings, none.messages, none.method, none.per_message) == (0, 0, "exact", None)
    assert estimate({0: Window(0, 5)}, {}) is None
