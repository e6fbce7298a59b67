"""Is data flowing? The readings topic's newest message time and the producers' heartbeats -> status (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

DATA_FLOWING = "DataFlowing"


@dataclass(frozen=True)
class Beat:
    """One producer's heartbeat (a simulator, or an ingest gateway): how many sensors it is reporting."""

    producer: str
    ts: float
    sensors: int


def heartbeat(value: bytes | None) -> Beat | None:
    """The heartbeat in a readings-topic message, None for anything else (reading batches, garbage)."""
    if not value:
        return None
    try:
        msg = msgspec.msgpack.decode(value)
    except msgspec.DecodeError:
        return None
    if not isinstance(msg, dict) or msg.get("msg") != "heartbeat":
        return None
    producer, ts, sensors = msg.get("producer"), msg.get("ts"), msg.get("sensors")
    if not isinstance(producer, str) or not isinstance(ts, int | float) or not isinstance(sensors, int):
        return None
    return Beat(producer, float(ts), max(0, sensors))


def sensors_reporting(beats: Iterable[Beat], now: float, window_s: float) -> int:
    """Sensors of every producer whose latest heartbeat is at most `window_s` old."""
    latest: dict[str, Beat] = {}
    for beat in beats:
        if beat.producer not in latest or beat.ts > latest[beat.producer].ts:
            latest[beat.producer] = beat
    return sum(b.sensors for b in latest.values() if now - b.ts <= window_s)


def condition(status: Mapping[str, Any], now: float, window_s: float) -> dict[str, str]:
    """DataFlowing from status.dataFlow (written by the Kafka timer): True when a reading arrived in the window."""
    flow = status.get("dataFlow") or {}
    newest = flow.get("lastMessageTime")
    sensors = int(flow.get("sensorsReporting") or 0)
    if flow.get("error"):
        return _cond(False, "Unknown", f"cannot read the readings topic: {flow['error']}")
    if not isinstance(newest, int | float):
        return _cond(False, "NoReadings", "nothing has arrived on the readings topic yet")
    # messages name the window, not the age, so the condition changes only when the answer does
    if now - float(newest) > window_s:
        last = dt.datetime.fromtimestamp(float(newest), dt.UTC).replace(microsecond=0).isoformat()
        return _cond(False, "Stale", f"no reading for more than {window_s:g} s (the last arrived at {last})")
    return _cond(True, "ReadingsArriving", f"readings within the last {window_s:g} s; {sensors} sensors reporting")


def _cond(ok: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": DATA_FLOWING, "status": "True" if ok else "False", "reason": reason, "message": message}
