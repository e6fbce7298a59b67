"""Responses in the documented formats of the GB Carbon Intensity API and the ENTSO-E transparency platform."""

from __future__ import annotations

import json

INTENSITY = json.dumps(
    {
        "data": [
            {
                "from": "2026-12-01T08:00Z",
                "to": "2026-12-01T08:30Z",
                "intensity": {"forecast": 210, "actual": 204, "index": "moderate"},
            },
            {
                "from": "2026-12-01T08:30Z",
                "to": "2026-12-01T09:00Z",
                "intensity": {"forecast": 198, "actual": None, "index": "moderate"},
            },
        ]
    }
).encode()
GENERATION = json.dumps(
    {
        "data": {
            "from": "2026-12-01T08:00Z",
            "to": "2026-12-01T08:30Z",
            "generationmix": [
                {"fuel": "gas", "perc": 38.2},
                {"fuel": "wind", "perc": 31.5},
                {"fuel": "solar", "perc": 2.1},
            ],
        }
    }
).encode()
CI_ERROR = json.dumps({"error": {"code": "400 Bad Request", "message": "Please enter a valid ISO 8601 date"}}).encode()

NS_PRICE = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
NS_LOAD = "urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0"
NS_ACK = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"


def prices(values: list[float], start: str = "2026-11-30T23:00Z", resolution: str = "PT60M") -> bytes:
    points = "".join(
        f"<Point><position>{i + 1}</position><price.amount>{v}</price.amount></Point>" for i, v in enumerate(values)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Publication_MarketDocument xmlns="{NS_PRICE}"><mRID>1</mRID>'
        "<type>A44</type><TimeSeries><mRID>1</mRID><currency_Unit.name>EUR</currency_Unit.name>"
        "<price_Measure_Unit.name>MWH</price_Measure_Unit.name><Period>"
        f"<timeInterval><start>{start}</start><end>2026-12-01T23:00Z</end></timeInterval>"
        f"<resolution>{resolution}</resolution>{points}</Period></TimeSeries></Publication_MarketDocument>"
    ).encode()


def load(values: list[float], start: str = "2026-11-30T23:00Z") -> bytes:
    points = "".join(
        f"<Point><position>{i + 1}</position><quantity>{v}</quantity></Point>" for i, v in enumerate(values)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><GL_MarketDocument xmlns="{NS_LOAD}"><mRID>1</mRID><type>A65</type>'
        "<process.processType>A16</process.processType><TimeSeries><mRID>1</mRID>"
        "<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name><Period>"
        f"<timeInterval><start>{start}</start><end>2026-12-01T23:00Z</end></timeInterval>"
        f"<resolution>PT15M</resolution>{points}</Period></TimeSeries></GL_MarketDocument>"
    ).encode()


def acknowledgement(code: str = "999", text: str = "No matching data found for Data item Day-ahead Prices") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Acknowledgement_MarketDocument xmlns="{NS_ACK}"><mRID>x</mRID>'
        f"<Reason><code>{code}</code><text>{text}</text></Reason></Acknowledgement_MarketDocument>"
    ).encode()
