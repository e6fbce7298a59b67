"""Records the processor writes to Redis and the API reads: sensor state, aggregates, heartbeats."""

from __future__ import annotations

import msgspec

from gridwatch.common.schema import SensorType, Status


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
