"""The published contract (contracts/) is what the code generates, and real messages validate against it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, ReadingBatch, SensorType, encode
from gridwatch.ingest.contract import ASYNCAPI_FILE, SCHEMA_FILE, json_schema, render

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


def test_committed_contract_matches_the_code() -> None:
    for name, text in render().items():
        assert (CONTRACTS / name).read_text() == text, f"contracts/{name} is stale: run `make contracts`"


def validator(name: str) -> jsonschema.protocols.Validator:
    doc: dict[str, Any] = {"$ref": f"#/$defs/{name}", "$defs": json_schema()["$defs"]}
    cls = jsonschema.validators.validator_for(json_schema())
    return cls(doc)


def wire(message: Any) -> Any:
    """What a non-Python consumer sees: the msgpack bytes decoded to plain maps and lists."""
    return msgspec.msgpack.decode(encode(message))


def test_messages_on_the_wire_validate_against_the_schema() -> None:
    batch = ReadingBatch(
        schema_version=SCHEMA_VERSION, site="s", gateway="g", seq=0, sensor_ids=["a"], machines=["m"],
        types=[SensorType.POWER], ts=[time.time()], values=[1.0],
    )  # fmt: skip
    validator("ReadingBatch").validate(wire(batch))
    beat = Heartbeat(schema_version=SCHEMA_VERSION, site="s", producer="g", ts=1.0, sensors=1, readings_sent=1, rate=0)
    validator("Heartbeat").validate(wire(beat))
    broken = wire(batch) | {"types": ["humidity"]}
    with pytest.raises(jsonschema.ValidationError):
        validator("ReadingBatch").validate(broken)
    validator("GatewayBatch").validate({"sensors": [{"id": "x", "type": "power"}], "ts": [1], "values": [[None]]})


def test_asyncapi_names_every_topic_and_device_endpoint() -> None:
    doc = msgspec.json.decode((CONTRACTS / ASYNCAPI_FILE).read_bytes())
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {f"{{prefix}}.{k}" for k in ("readings", "enriched", "alerts", "grid", "dlq")} <= addresses
    assert {"gridwatch/{site}/{gateway}/telemetry", "/api/v1/ingest/telemetry"} <= addresses
    refs = {m["payload"]["$ref"].split("/")[-1] for m in doc["components"]["messages"].values()}
    assert refs <= set(json_schema()["$defs"]), f"every payload is defined in {SCHEMA_FILE}"
