"""The live message the processor publishes on the site's Redis channel after each batch; the API fans it out."""

from __future__ import annotations

import msgspec

from gridwatch.common.schema import SCHEMA_VERSION, Alert, Status


class LiveChange(msgspec.Struct):
    """A sensor worth showing live (anomalous or not normal) in one processor batch."""

    id: str
    status: Status
    value: float
    failure_probability: float
    kind: str


class LiveBatch(msgspec.Struct, tag_field="type", tag="batch"):
    """One written batch: how many readings and anomalies, which sensors changed, its critical alerts."""

    ts: float
    readings: int
    anomalies: int
    changed: list[LiveChange]
    alerts: list[Alert]  # the batch's critical alerts, for the live burst
    schema_version: int = SCHEMA_VERSION


live_encoder = msgspec.json.Encoder()
live_decoder = msgspec.json.Decoder(LiveBatch)
