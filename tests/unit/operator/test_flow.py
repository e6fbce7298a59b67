"""DataFlowing and sensors reporting, from the readings topic's newest message and the producers' heartbeats."""

from __future__ import annotations

import msgspec
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, encode
from gridwatch_operator import status
from gridwatch_operator.conditions import Component
from gridwatch_operator.flow import Beat, condition, heartbeat, sensors_reporting

NOW = 1_800_000_000.0


def _beat(producer: str, ts: float, sensors: int) -> bytes:
    message = Heartbeat(
        schema_version=SCHEMA_VERSION, site="s", producer=producer, ts=ts, sensors=sensors, readings_sent=0, rate=0.0
    )
    return encode(message)


def test_heartbeats_decode_from_the_wire_format_and_anything_else_is_skipped() -> None:
    assert heartbeat(_beat("gw-1", NOW, 12)) == Beat("gw-1", NOW, 12)
    assert heartbeat(msgspec.msgpack.encode({"msg": "readings", "sensor_ids": ["a"]})) is None
    assert heartbeat(b"\xc1 not msgpack") is None
    assert heartbeat(None) is None


def test_sensors_reporting_counts_each_producers_latest_heartbeat_within_the_window() -> None:
    beats = [
        Beat("sim-0", NOW - 50, 300),
        Beat("sim-0", NOW - 2, 300),  # the same producer again: counted once
        Beat("gw-1", NOW - 5, 12),
        Beat("gw-2", NOW - 120, 40),  # silent for two minutes: not reporting
    ]
    assert sensors_reporting(beats, NOW, 60) == 312
    assert sensors_reporting([], NOW, 60) == 0
    # a producer whose latest heartbeat is old does not count through an older one
    assert sensors_reporting([Beat("gw", NOW - 30, 5), Beat("gw", NOW - 90, 5)], NOW, 60) == 5


def test_data_flowing_condition() -> None:
    fresh = {"dataFlow": {"lastMessageTime": NOW - 10, "sensorsReporting": 312}}
    ok = condition(fresh, NOW, 60)
    assert (ok["type"], ok["status"], ok["reason"]) == ("DataFlowing", "True", "ReadingsArriving")
    assert "312 sensors reporting" in ok["message"]
    stale = condition({"dataFlow": {"lastMessageTime": NOW - 600, "sensorsReporting": 0}}, NOW, 60)
    assert (stale["status"], stale["reason"]) == ("False", "Stale")
    assert condition({}, NOW, 60)["reason"] == "NoReadings"
    unknown = condition({"dataFlow": {"error": "Kafka at k:9092: timed out"}}, NOW, 60)
    assert (unknown["status"], unknown["reason"]) == ("False", "Unknown") and "timed out" in unknown["message"]
    # the message does not tick with the age, so the status is not patched on every pass
    assert condition(fresh, NOW + 20, 60) == ok


def test_observe_adds_data_flowing_beside_the_other_conditions() -> None:
    found = (Component("processor", 1, 1),)
    current = {"observedGeneration": 1, "dataFlow": {"lastMessageTime": NOW - 1, "sensorsReporting": 3}}
    out = status.observe(current, 1, found, paused=False, stamp="2026-01-01T00:00:00Z", window_s=60, at=NOW)
    kinds = {c["type"]: c["status"] for c in out["conditions"]}
    assert kinds == {
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
        "DataFlowing": "True",
        "UpgradePending": "False",  # rollout.py: no chart upgrade is held
    }
    later = status.observe(
        {**current, **out}, 1, found, paused=False, stamp="2026-01-01T00:05:00Z", window_s=60, at=NOW + 300
    )
    flowing = next(c for c in later["conditions"] if c["type"] == "DataFlowing")
    assert (flowing["status"], flowing["lastTransitionTime"]) == ("False", "2026-01-01T00:05:00Z")
