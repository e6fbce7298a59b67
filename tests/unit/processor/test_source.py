"""Each sensor's source: stamped per batch on the wire, kept per sensor, written with the sensor's state."""

from __future__ import annotations

import time

import msgspec
import numpy as np
from gridwatch.common.schema import (
    SCHEMA_VERSION,
    TYPE_CODE,
    ReadingBatch,
    ReadingSource,
    SensorType,
    decode,
    encode,
)
from gridwatch.common.scoring import Scorer, ScoringConfig
from gridwatch.common.state import SensorState, decode_state, state_encoder
from gridwatch.processor.runner import stamp_sources
from gridwatch.processor.store import StateStore

NOW = time.time()


def batch(ids: list[str], source: ReadingSource | None, ts: float) -> ReadingBatch:
    return ReadingBatch(
        schema_version=SCHEMA_VERSION,
        site="s",
        gateway="gw",
        seq=0,
        sensor_ids=ids,
        machines=["m"] * len(ids),
        types=[SensorType.POWER] * len(ids),
        ts=[ts] * len(ids),
        values=[10.0] * len(ids),
        source=source,
    )


def score(scorer: Scorer, batches: list[ReadingBatch]) -> list[SensorState]:
    """What the processor does with one poll of batches, up to the states it writes."""
    ids = [i for b in batches for i in b.sensor_ids]
    table = scorer.table
    sensor, _new = table.lookup(ids, ["m"] * len(ids), [TYPE_CODE[SensorType.POWER]] * len(ids))
    stamp_sources(table, sensor, batches)
    ts = np.asarray([t for b in batches for t in b.ts])
    result = scorer.score(sensor, ts, np.asarray([v for b in batches for v in b.values]))
    pending = StateStore(None, "s", 60).build(table, result, NOW)  # type: ignore[arg-type]  # no Redis in build
    return [decode_state(state_encoder.encode(s)) for s in pending.states]


def test_each_sensor_keeps_the_source_of_its_latest_batch() -> None:
    scorer = Scorer(ScoringConfig())
    first = score(
        scorer,
        [
            batch(["a", "b"], ReadingSource.SIMULATED, NOW - 20),
            batch(["c"], ReadingSource.MQTT, NOW - 20),
            batch(["d"], None, NOW - 20),  # a producer older than the field
            batch(["b"], ReadingSource.REPLAY, NOW - 19),  # later in the same poll: wins
        ],
    )
    assert {s.id: s.source for s in first} == {
        "a": ReadingSource.SIMULATED,
        "b": ReadingSource.REPLAY,
        "c": ReadingSource.MQTT,
        "d": None,
    }
    later = score(scorer, [batch(["a", "d"], ReadingSource.HTTP, NOW - 10)])
    assert {s.id: s.source for s in later} == {"a": ReadingSource.HTTP, "d": ReadingSource.HTTP}


def test_source_is_optional_on_the_wire_and_in_stored_state() -> None:
    plain = batch(["a"], None, NOW)
    assert decode(encode(plain)) == plain  # what producers older than the field send
    stamped = batch(["a"], ReadingSource.MQTT, NOW)
    decoded = decode(encode(stamped))
    assert isinstance(decoded, ReadingBatch) and decoded.source is ReadingSource.MQTT
    old = msgspec.json.decode(state_encoder.encode(score(Scorer(ScoringConfig()), [stamped])[0]))
    del old["source"]  # a state a processor older than the field wrote
    assert decode_state(msgspec.json.encode(old)).source is None
