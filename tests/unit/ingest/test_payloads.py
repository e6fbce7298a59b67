"""Telemetry and gateway-batch payloads: shapes, locations of bad fields, edge limits."""

from __future__ import annotations

import time

import msgspec
import pytest
from gridwatch.common.schema import SensorType
from gridwatch.ingest.payloads import PayloadError, SensorMeta, decode_body, parse

NOW = time.time()
MS = int(NOW * 1000)


def nothing(sensor_id: str) -> SensorMeta | None:
    return None


def test_thingsboard_single_and_list_name_sensors_after_the_gateway() -> None:
    one = parse({"ts": MS, "values": {"oil_temperature": 61.5, "power": 12}}, "press-7", nothing, NOW)
    assert one.sensor_ids == ["press-7.oil_temperature", "press-7.power"]
    assert one.types == [SensorType.TEMPERATURE, SensorType.POWER]
    assert one.machines == ["press-7", "press-7"]
    assert one.ts == [MS / 1000, MS / 1000] and one.values == [61.5, 12.0]
    many = parse([{"ts": MS, "values": {"power": 1}}, {"ts": MS + 1000, "values": {"power": 2}}], "g", nothing, NOW)
    assert many.size == 2 and many.ts[1] - many.ts[0] == pytest.approx(1.0)
    bare = parse({"vibration": 3.0}, "g", nothing, NOW)
    assert bare.ts == [NOW] and bare.types == [SensorType.VIBRATION]


def test_declared_types_win_over_key_names() -> None:
    meta = SensorMeta("g.spindle", SensorType.CURRENT, "lathe-2", "A")
    parsed = parse({"ts": MS, "values": {"spindle": 4.2}}, "g", {"g.spindle": meta}.get, NOW)
    assert parsed.types == [SensorType.CURRENT] and parsed.machines == ["lathe-2"]


@pytest.mark.parametrize(
    ("payload", "loc", "words"),
    [
        ([{"ts": MS, "values": {"power": 1}}, {"ts": MS, "values": {"power": "high"}}], "$[1].values.power", "number"),
        ({"ts": MS, "values": {"humidity": 40}}, "$.values.humidity", "no known type"),
        ({"ts": "yesterday", "values": {"power": 1}}, "$.ts", "milliseconds"),
        ({"ts": MS, "values": {}}, "$.values", "non-empty"),
        ({"ts": MS, "values": {"power": 1}, "extra": 1}, "$.extra", "unknown field"),
        ([1], "$[0]", "object"),
    ],
)
def test_bad_telemetry_names_field_and_index(payload: object, loc: str, words: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse(payload, "g", nothing, NOW)
    assert info.value.problems[0].loc == loc
    assert words in info.value.problems[0].reason


def test_implausible_values_and_timestamps_are_refused_one_by_one() -> None:
    parsed = parse(
        [
            {"ts": MS, "values": {"temperature": 1e300, "power": 5}},
            {"ts": MS - 30 * 86400 * 1000, "values": {"power": 6}},
            {"ts": MS + 3600 * 1000, "values": {"power": 7}},
            {"ts": MS, "values": {"vibration": 2e4}},
        ],
        "g",
        nothing,
        NOW,
    )
    assert parsed.values == [5.0]
    assert parsed.rejected_total == 4
    reasons = [p.reason for p in parsed.rejected]
    assert "plausible temperature range" in reasons[0]
    assert "7 days old" in reasons[1] and "future" in reasons[2]
    assert parsed.rejected[0].loc == "$[0].values.temperature" and parsed.rejected[0].sensor == "g.temperature"


def batch(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "sensors": [
            {"id": "m1-power", "type": "power", "unit": "kW", "machine": "m1"},
            {"id": "m1-temp", "type": "temperature"},
        ],
        "ts": [MS, MS + 1000, MS + 2000],
        "values": [[10.0, 11.0, 12.0], [40.0, None, 41.0]],
    }
    body.update(over)
    return body


def test_gateway_batch_is_sensors_by_timestamps_and_declares_sensors() -> None:
    parsed = parse(batch(), "gw", nothing, NOW)
    assert parsed.size == 5
    assert parsed.sensor_ids == ["m1-power"] * 3 + ["m1-temp"] * 2
    assert parsed.machines == ["m1"] * 3 + ["gw"] * 2
    assert parsed.values == [10.0, 11.0, 12.0, 40.0, 41.0]
    assert [m.sensor_id for m in parsed.declared] == ["m1-power", "m1-temp"]
    again = parse(
        batch(sensors=[{"id": "m1-power"}, {"id": "m1-temp"}]), "gw", {m.sensor_id: m for m in parsed.declared}.get, NOW
    )
    assert again.size == 5 and again.declared == []


def test_gateway_batch_msgpack_decodes_like_json() -> None:
    body = msgspec.msgpack.encode(batch())
    assert parse(decode_body(body, "application/msgpack"), "gw", nothing, NOW).size == 5


@pytest.mark.parametrize(
    ("over", "loc", "words"),
    [
        ({"values": [[1.0, 2.0, 3.0], [1.0, "x", 3.0]]}, "$.values[1][1]", "float"),
        ({"values": [[1.0, 2.0, 3.0], [1.0, 3.0]]}, "$.values[1]", "expected 3 values"),
        (
            {"sensors": [{"id": "a", "type": "humidity"}, {"id": "b", "type": "power"}]},
            "$.sensors[0].type",
            "unknown sensor type",
        ),
        (
            {"sensors": [{"id": "a", "type": "temperature", "unit": "F"}, {"id": "b", "type": "power"}]},
            "$.sensors[0].unit",
            "°C",
        ),
        ({"sensors": [{"id": "a", "type": "power"}, {"id": "b"}]}, "$.sensors[1].type", "no known type"),
        ({"ts": [MS, -1, MS]}, "$.ts[1]", "milliseconds"),
        ({"colour": "red"}, "$", "colour"),
    ],
)
def test_bad_gateway_batch_names_field_and_index(over: dict[str, object], loc: str, words: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse(batch(**over), "gw", nothing, NOW)
    assert info.value.problems[0].loc == loc, info.value.problems
    assert words in info.value.problems[0].reason


def test_gateway_batch_refuses_only_the_implausible_cells() -> None:
    parsed = parse(batch(values=[[10.0, 2e9, 12.0], [40.0, float("nan"), 41.0]]), "gw", nothing, NOW)
    assert parsed.values == [10.0, 12.0, 40.0, 41.0]
    assert [p.loc for p in parsed.rejected] == ["$.values[0][1]", "$.values[1][1]"]


def test_undecodable_bodies_and_unknown_content_types() -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        decode_body(b"{nope", "application/json")
    with pytest.raises(PayloadError, match="unsupported content type"):
        decode_body(b"a,b", "text/csv")
