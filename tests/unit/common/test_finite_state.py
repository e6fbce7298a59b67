"""Property: whatever batches arrive, validation + scoring + the Redis codec store only finite, decodable numbers."""

from __future__ import annotations

import math
import time

import msgspec
import numpy as np
import pytest
from gridwatch.common.schema import (
    PLAUSIBLE,
    SCHEMA_VERSION,
    SENSOR_TYPES,
    TYPE_CODE,
    EnrichedBatch,
    InvalidMessage,
    ReadingBatch,
    SensorType,
    Status,
    decode,
    encode,
)
from gridwatch.common.scoring import Scorer, ScoringConfig
from gridwatch.common.state import CorruptRecord, SensorState, decode_state, decode_states, state_encoder
from gridwatch.processor.runner import enriched_batch, screen
from gridwatch.processor.store import StateStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = time.time()
SENSOR_POOL = [f"m{i}-{t.value}" for i in range(4) for t in SENSOR_TYPES]

# any float at all, with the poison pills of issue 12 weighted in
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 0.0, -0.0]),
    st.floats(min_value=-2e6, max_value=2e6),
)


@st.composite
def batches(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(min_value=0, max_value=12))
    ids = draw(st.lists(st.sampled_from(SENSOR_POOL), min_size=n, max_size=n))
    ts = draw(st.lists(st.one_of(st.floats(min_value=NOW - 3600, max_value=NOW + 60), floats), min_size=n, max_size=n))
    values = draw(st.lists(floats, min_size=n, max_size=n))
    batch = ReadingBatch(
        schema_version=SCHEMA_VERSION,
        site="prop",
        gateway="g",
        seq=0,
        sensor_ids=ids,
        machines=[sid.split("-")[0] for sid in ids],
        types=[SensorType(sid.split("-")[1]) for sid in ids],
        ts=ts,
        values=values,
    )
    return encode(batch)


def _all_finite(obj: object) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_all_finite(v) for v in obj)
    return True


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(batches(), min_size=1, max_size=8))
def test_no_batch_sequence_makes_stored_state_non_finite(raw_batches: list[bytes]) -> None:
    scorer = Scorer(ScoringConfig())
    store = StateStore(None, "prop", 60)  # type: ignore[arg-type]  # build() never touches Redis
    stored: dict[str, bytes] = {}
    for raw in raw_batches:
        try:
            msg = decode(raw)
        except InvalidMessage:
            continue  # dead-lettered whole
        assert isinstance(msg, ReadingBatch)
        batch, rejected = screen(msg, "prop", NOW)
        for _reason, payload in rejected:
            if payload is not None:  # the dead-lettered part is itself a valid message
                assert isinstance(decode(payload), ReadingBatch)
        if batch is None:
            continue
        for t, v in zip(batch.types, batch.values, strict=True):  # physical limits hold after validation
            assert PLAUSIBLE[t][0] <= v <= PLAUSIBLE[t][1]
        table = scorer.table
        sensor, _new = table.lookup(batch.sensor_ids, batch.machines, [TYPE_CODE[t] for t in batch.types])
        result = scorer.score(sensor, np.asarray(batch.ts), np.asarray(batch.values))
        pending = store.build(table, result, NOW)
        # aggregates Redis increments with HINCRBYFLOAT, which refuses non-finite numbers
        assert math.isfinite(pending.energy_kwh) and math.isfinite(pending.power_kw)
        for state in pending.states:
            blob = state_encoder.encode(state)
            decoded = decode_state(blob)  # what the API, the alert engine and a restarted processor read
            assert _all_finite(msgspec.to_builtins(decoded))
            stored[state.id] = blob
        if result.size:
            enriched = enriched_batch("prop", table, result, np.arange(result.size), [""] * len(batch.values))
            again = decode(encode(enriched))  # the history writer's decode accepts it
            assert isinstance(again, EnrichedBatch)
            assert _all_finite(msgspec.to_builtins(again))
    assert len(decode_states(stored.values(), "prop", "test")) == len(stored)


def test_poison_pills_of_issue_12_are_dead_lettered_with_a_reason() -> None:
    def batch(values: list[float], types: list[SensorType]) -> ReadingBatch:
        ids = [f"new-{i}" for i in range(len(values))]
        return ReadingBatch(SCHEMA_VERSION, "s", "g", 0, ids, ["m"] * len(ids), types, [NOW] * len(ids), values)

    admitted, rejected = screen(batch([1e300], [SensorType.POWER]), "s", NOW)
    assert admitted is None
    assert rejected[0][0].startswith("implausible value: new-0 (power) = 1e+300 outside [-1e+06, 1e+06] kW")
    admitted, rejected = screen(batch([1e308, 1e308, 42.0], [SensorType.POWER] * 3), "s", NOW)
    assert admitted is not None and admitted.values == [42.0] and admitted.sensor_ids == ["new-2"]
    assert "and" not in rejected[0][0] and rejected[0][0].count("1e+308") == 2
    payload = rejected[0][1]
    assert payload is not None
    part = decode(payload)
    assert isinstance(part, ReadingBatch) and part.values == [1e308, 1e308]


def test_a_state_that_cannot_be_decoded_is_reported_not_raised() -> None:
    good = SensorState(
        "a", "m", SensorType.POWER, "kW", 1.0, NOW, 0.0, False, 0.0, Status.NORMAL, "", 1, 0, 0.0, 1.0, 0.1, 0.0, NOW
    )
    blob = state_encoder.encode(good)
    null_std = blob.replace(b'"baseline_std":0.1', b'"baseline_std":null')
    huge = blob.replace(b'"value":1.0', b'"value":1e999')
    for bad in (null_std, huge, b"not json"):
        try:
            decode_state(bad)
        except CorruptRecord:
            pass
        else:
            raise AssertionError(f"{bad!r} decoded")
    assert [s.id for s in decode_states([blob, null_std, None, huge], "s", "test")] == ["a"]
