"""The language-independent contract: JSON Schema of every wire message (from the msgspec types) and an AsyncAPI
document of the Kafka topics and the device endpoints; `python -m gridwatch.ingest.contract --out contracts`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import msgspec

from gridwatch.common.schema import SCHEMA_VERSION, Alert, EnrichedBatch, GridSignal, Heartbeat, ReadingBatch
from gridwatch.ingest.payloads import GatewayBatch, Telemetry

SCHEMA_FILE = "gridwatch.schema.json"
ASYNCAPI_FILE = "asyncapi.json"
WIRE = (ReadingBatch, Heartbeat, EnrichedBatch, Alert, GridSignal)
DEVICE = (Telemetry, GatewayBatch)


def json_schema() -> dict[str, Any]:
    """One JSON Schema document with every message under `$defs`."""
    _, defs = msgspec.json.schema_components([*WIRE, *DEVICE], ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://gridwatch.io/contracts/v{SCHEMA_VERSION}/{SCHEMA_FILE}",
        "title": "Gridwatch wire contract",
        "description": (
            "Kafka messages are msgpack-encoded maps with these fields (msgpack and JSON share this data model); "
            "`msg` tells the message type. Device payloads (Telemetry, GatewayBatch) are JSON or msgpack bodies."
        ),
        "$defs": defs,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"{SCHEMA_FILE}#/$defs/{name}"}


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.0 document: the site's topics, the MQTT telemetry topic and the HTTP ingest endpoint."""
    msgpack = "application/msgpack"

    def message(name: str, summary: str, content_type: str = msgpack) -> dict[str, Any]:
        return {"name": name, "summary": summary, "contentType": content_type, "payload": _ref(name)}

    topics = {
        "readings": (
            "{prefix}.readings",
            ["ReadingBatch", "Heartbeat"],
            "Reading batches keyed by gateway, heartbeats",
        ),
        "enriched": ("{prefix}.enriched", ["EnrichedBatch"], "Scored readings keyed by sensor"),
        "alerts": ("{prefix}.alerts", ["Alert"], "Anomaly alerts keyed by sensor"),
        "grid": ("{prefix}.grid", ["GridSignal"], "External grid signals keyed by source:metric:fuel"),
    }
    messages: dict[str, Any] = {
        "ReadingBatch": message("ReadingBatch", "Readings of one gateway, column-wise"),
        "Heartbeat": message("Heartbeat", "Liveness of one producer (simulator or gateway)"),
        "EnrichedBatch": message("EnrichedBatch", "Scored readings"),
        "Alert": message("Alert", "An anomaly event"),
        "GridSignal": message("GridSignal", "One value of a grid series"),
        "Telemetry": message("Telemetry", "ThingsBoard-style telemetry (one object or a list)", "application/json"),
        "GatewayBatch": message("GatewayBatch", "Sensors x timestamps of one gateway", "application/json"),
    }
    channels: dict[str, Any] = {
        kind: {
            "address": address,
            "description": description,
            "parameters": {"prefix": {"description": "Topic prefix (the site name unless set)"}},
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in names},
            "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
        }
        for kind, (address, names, description) in topics.items()
    }
    channels["dlq"] = {
        "address": "{prefix}.dlq",
        "description": (
            "Refused input, with headers gridwatch.dlq.reason and the origin: gridwatch.dlq.gateway and "
            "gridwatch.dlq.transport (ingest) or gridwatch.dlq.topic/partition/offset (consumers)"
        ),
        "parameters": {"prefix": {"description": "Topic prefix"}},
    }
    channels["mqttTelemetry"] = {
        "address": "gridwatch/{site}/{gateway}/telemetry",
        "description": "QoS 1; the bridge acknowledges once Kafka has the readings. JSON or msgpack bodies.",
        "parameters": {"site": {"description": "Site name"}, "gateway": {"description": "Gateway id"}},
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in DEVICE_NAMES},
        "bindings": {"mqtt": {"bindingVersion": "0.2.0"}},
    }
    channels["httpTelemetry"] = {
        "address": "/api/v1/ingest/telemetry",
        "description": (
            "POST with `Authorization: Bearer <gateway token>`: 202 with counts, 401/403, 413, 422 naming the field "
            "and index, 429 with Retry-After when Kafka pushes back."
        ),
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in DEVICE_NAMES},
        "bindings": {"http": {"bindingVersion": "0.3.0"}},
    }
    operations = {
        f"{'send' if kind in ('mqttTelemetry', 'httpTelemetry') else 'receive'}{kind[0].upper()}{kind[1:]}": {
            "action": "send" if kind in ("mqttTelemetry", "httpTelemetry") else "receive",
            "channel": {"$ref": f"#/channels/{kind}"},
        }
        for kind in channels
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Gridwatch",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": "Topics of one site and the device-facing ingest endpoints. Payload schemas: " + SCHEMA_FILE,
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


DEVICE_NAMES = [t.__name__ for t in DEVICE]


def render() -> dict[str, str]:
    """File name -> text, sorted keys and a final newline, so the committed files diff cleanly."""
    return {
        SCHEMA_FILE: json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        ASYNCAPI_FILE: json.dumps(asyncapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    }


def main() -> None:
    """Write the contract files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("contracts"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (args.out / name).write_text(text)


if __name__ == "__main__":
    main()
