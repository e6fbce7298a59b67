"""Records the processor writes to Redis and the API reads: sensor state, aggregates, heartbeats."""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec
import structlog
from prometheus_client import Counter

from gridwatch.common.schema import ReadingSource, SensorType, Status


class SensorState(msgspec.Struct, omit_defaults=False):
    """Latest scored state of one sensor, stored as JSON in the site's sensors hash."""

    id: str
    machine: str
    type: SensorType
    unit: str
    value: float
    ts: float
    score: float
    anomaly: bool
    failure_probability: float
    status: Status
    kind: str
    readings: int
    anomalies: int
    energy_kwh: float
    baseline_mean: float
    baseline_std: float
    hazard: float
    updated_at: float
    # where the sensor's latest reading came from; None: a producer (or a stored state) older than the field
    source: ReadingSource | None = None


class ProducerBeat(msgspec.Struct):
    """A producer's last heartbeat as the processor received it."""

    producer: str
    ts: float
    received_at: float
    sensors: int
    readings_sent: int
    rate: float


state_encoder = msgspec.json.Encoder()
state_decoder = msgspec.json.Decoder(SensorState)
beat_decoder = msgspec.json.Decoder(ProducerBeat)

log = structlog.get_logger(__name__)
CORRUPT = Counter(
    "gridwatch_state_corrupt_records_total",
    "Redis records (sensor states, producer beats) that could not be decoded and were skipped or reset",
    ("site", "component", "record"),
)
_STATE_FLOATS = ("value", "ts", "score", "failure_probability", "energy_kwh", "baseline_mean", "baseline_std", "hazard")


class CorruptRecord(ValueError):
    """A Redis record that does not decode to a valid, finite record."""


def decode_state(blob: bytes | str) -> SensorState:
    """Decode one sensor state; CorruptRecord when it is malformed or holds a non-finite number."""
    try:
        st = state_decoder.decode(blob)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CorruptRecord(str(exc)) from exc
    bad = [name for name in _STATE_FLOATS if not math.isfinite(getattr(st, name))]
    if bad:
        raise CorruptRecord(f"non-finite {', '.join(bad)}")
    return st


def decode_beat(blob: bytes | str) -> ProducerBeat:
    """Decode one producer beat; CorruptRecord when it is malformed or holds a non-finite number."""
    try:
        beat = beat_decoder.decode(blob)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CorruptRecord(str(exc)) from exc
    if not all(math.isfinite(x) for x in (beat.ts, beat.received_at, beat.rate)):
        raise CorruptRecord("non-finite ts, received_at or rate")
    return beat


def report_corrupt(site: str, component: str, record: str, key: object, exc: CorruptRecord) -> None:
    """Count and log one undecodable record (the caller skips or resets it)."""
    CORRUPT.labels(site=site, component=component, record=record).inc()
    log.error("undecodable record in Redis; skipped", record=record, key=str(key), error=str(exc))


def decode_states(blobs: Iterable[bytes | str | None], site: str, component: str) -> list[SensorState]:
    """The decodable states among `blobs` (None: absent), reporting and skipping the corrupt ones."""
    out: list[SensorState] = []
    for blob in blobs:
        if blob is None:
            continue
        try:
            out.append(decode_state(blob))
        except CorruptRecord as exc:
            report_corrupt(site, component, "sensor", blob[:80], exc)
    return out


def decode_beats(blobs: Iterable[bytes | str], site: str, component: str) -> list[ProducerBeat]:
    """The decodable beats among `blobs`, reporting and skipping the corrupt ones."""
    out: list[ProducerBeat] = []
    for blob in blobs:
        try:
            out.append(decode_beat(blob))
        except CorruptRecord as exc:
            report_corrupt(site, component, "producer", blob[:80], exc)
    return out
