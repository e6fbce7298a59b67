"""Wire schema: round trips and the rejections that send a message to the DLQ."""

from __future__ import annotations

import math

import msgspec
import pytest
from gridwatch.common.schema import (
    SCHEMA_VERSION,
    Alert,
    EnrichedBatch,
    FaultKind,
    Heartbeat,
    InvalidMessage,
    Message,
    ReadingBatch,
    SensorType,
    Severity,
    Status,
    decode,
    encode,
)


def enriched(**overrides: object) -> EnrichedBatch:
    fields: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "site": "s",
        "sensor_ids": ["m1-power", "m1-voltage"],
        "types": [SensorType.POWER, SensorType.VOLTAGE],
        "ts": [1.0, 1.0],
        "values": [10.0, 400.0],
        "score": [0.1, 0.2],
        "anomaly": [False, False],
        "failure_probability": [0.0, 0.1],
        "status": [Status.NORMAL, Status.NORMAL],
        "label": ["", ""],
        "energy_kwh": [0.01, 0.0],
    }
    fields.update(overrides)
    return EnrichedBatch(**fields)  # type: ignore[arg-type]


def batch(**overrides: object) -> ReadingBatch:
    fields: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "site": "s",
        "gateway": "gw0",
        "seq": 1,
        "sensor_ids": ["m1-power", "m1-voltage"],
        "machines": ["m1", "m1"],
        "types": [SensorType.POWER, SensorType.VOLTAGE],
        "ts": [1.0, 1.0],
        "values": [10.0, 400.0],
        "fault_index": [1],
        "fault_kind": [FaultKind.STUCK],
    }
    fields.update(overrides)
    return ReadingBatch(**fields)  # type: ignore[arg-type]


def test_every_message_round_trips() -> None:
    messages: list[Message] = [
        batch(),
        Heartbeat(schema_version=1, site="s", producer="p", ts=2.0, sensors=3, readings_sent=9, rate=1.5),
        EnrichedBatch(
            schema_version=1,
            site="s",
            sensor_ids=["a"],
            types=[SensorType.PRESSURE],
            ts=[1.0],
            values=[2.0],
            score=[0.1],
            anomaly=[False],
            failure_probability=[0.0],
            status=[Status.NORMAL],
            label=[""],
            energy_kwh=[0.0],
        ),
        Alert(
            schema_version=1,
            site="s",
            sensor_id="a",
            machine="m",
            type=SensorType.TEMPERATURE,
            ts=1.0,
            severity=Severity.CRITICAL,
            kind="overheat",
            score=0.9,
            failure_probability=0.85,
            value=99.0,
            message="hot",
        ),
    ]
    for message in messages:
        assert decode(encode(message)) == message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\xffnot msgpack at all", ""),
        (msgspec.msgpack.encode({"msg": "readings"}), "missing required field"),
        (msgspec.msgpack.encode({"msg": "nope", "schema_version": 1}), "Invalid value 'nope'"),
        (encode(batch(schema_version=SCHEMA_VERSION + 1)), "schema_version"),
        (encode(batch(values=[1.0])), "column 'values' has 1 entries"),
        (encode(batch(values=[1.0, math.nan])), "finite"),
        (encode(batch(ts=[1.0, -5.0])), "timestamps"),
        (encode(batch(fault_index=[7])), "fault_index 7 outside"),
        (encode(batch(fault_kind=[])), "differ in length"),
        (msgspec.msgpack.encode({**msgspec.to_builtins(batch()), "extra": 1}), "unknown field"),
        (msgspec.msgpack.encode({**msgspec.to_builtins(batch()), "types": ["power", "humidity"]}), "humidity"),
        (msgspec.msgpack.encode({**msgspec.to_builtins(batch()), "sensor_ids": ["", "x"]}), "length"),
        (encode(enriched(energy_kwh=[0.1])), "column 'energy_kwh' has 1 entries"),
        (encode(enriched(label=["", "", ""])), "column 'label' has 3 entries"),
        (encode(enriched(energy_kwh=[math.inf, 0.0])), "energy_kwh must be finite"),
        (
            msgspec.msgpack.encode({k: v for k, v in msgspec.to_builtins(enriched()).items() if k != "energy_kwh"}),
            "missing required field `energy_kwh`",
        ),
    ],
)
def test_invalid_messages_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage) as excinfo:
        decode(data)
    assert reason in str(excinfo.value)
    assert str(excinfo.value)
