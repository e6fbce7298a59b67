"""Adapters from public grid APIs' documented formats to GridSignal values.

- GB Carbon Intensity API (api.carbonintensity.org.uk): `GET /intensity` (and `GET /intensity/{from}/fw24h`, the
  next 24 hours' half hours) answers
  `{"data": [{"from": "2018-01-20T12:00Z", "to": "...",
  "intensity": {"forecast": 266, "actual": 263, "index": "moderate"}}]}`;
  `GET /generation` answers `{"data": {"from", "to", "generationmix": [{"fuel": "gas", "perc": 43.6}, ...]}}`;
  errors are `{"error": {"code": "400 Bad Request", "message": "..."}}`.
- ENTSO-E transparency platform (`GET /api?securityToken=&documentType=A44|A65&...`): a `Publication_MarketDocument`
  (A44 day-ahead prices, `price.amount`) or `GL_MarketDocument` (A65 total load, `quantity`) of TimeSeries > Period
  (timeInterval start/end, resolution PT15M/PT30M/PT60M) > Point (position 1..n); errors are an
  `Acknowledgement_MarketDocument` with `Reason/code` and `Reason/text`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from gridwatch.common.schema import GridMetric


class SourceError(RuntimeError):
    """The API answered, but with an error document; `retry` says whether trying again can help."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Point:
    """One normalised value before it becomes a GridSignal."""

    metric: GridMetric
    start_ts: float
    end_ts: float
    value: float
    fuel: str = ""
    forecast: bool = False


def _iso(text: str) -> float:
    text = text.strip().replace("Z", "+00:00")
    if re.fullmatch(r".*T\d\d:\d\d\+00:00", text):
        text = text.replace("+00:00", ":00+00:00")
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# ------------------------------------------------------------------ GB Carbon Intensity


def carbon_intensity_paths(now: datetime) -> list[str]:
    """The paths polled on the Carbon Intensity API: the current half hour (actual when published), the forecast
    for the next 24 hours from now (`/intensity/{from}/fw24h`, what the storage optimizer plans with), the mix."""
    since = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return ["/intensity", f"/intensity/{since}/fw24h", "/generation"]


def parse_carbon_intensity(path: str, body: bytes) -> list[Point]:
    """`/intensity` -> carbon intensity (actual when published, else the forecast); `/generation` -> mix in %."""
    try:
        doc: Any = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise SourceError(f"{path}: not JSON: {exc}") from exc
    if isinstance(doc, dict) and "error" in doc:
        err = doc["error"] if isinstance(doc["error"], dict) else {"message": str(doc["error"])}
        raise SourceError(f"{path}: {err.get('code', 'error')}: {err.get('message', '')}")
    data = doc.get("data") if isinstance(doc, dict) else None
    if data is None:
        raise SourceError(f"{path}: no 'data' in the answer")
    items = data if isinstance(data, list) else [data]
    points: list[Point] = []
    try:
        for item in items:
            start, end = _iso(item["from"]), _iso(item["to"])
            if path.startswith("/intensity"):
                intensity = item["intensity"]
                actual = intensity.get("actual")
                value = actual if actual is not None else intensity["forecast"]
                if value is None:
                    continue
                points.append(Point(GridMetric.CARBON_INTENSITY, start, end, float(value), forecast=actual is None))
            else:
                for mix in item["generationmix"]:
                    points.append(
                        Point(GridMetric.GENERATION_SHARE, start, end, float(mix["perc"]), fuel=str(mix["fuel"]))
                    )
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"{path}: unexpected document shape: {exc!r}") from exc
    return points


# ------------------------------------------------------------------ ENTSO-E


def entsoe_params(document_type: str, region: str, token: str, now: datetime) -> dict[str, str]:
    """Query parameters from today 00:00 UTC: day-ahead prices (A44) for today and tomorrow (published around noon
    CET, so a day-ahead plan sees them once they exist), or today's actual total load (A65)."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=2 if document_type == "A44" else 1)
    fmt = "%Y%m%d%H%M"
    params = {
        "securityToken": token,
        "documentType": document_type,
        "periodStart": start.strftime(fmt),
        "periodEnd": end.strftime(fmt),
    }
    if document_type == "A44":
        params.update({"in_Domain": region, "out_Domain": region})
    else:
        params.update({"processType": "A16", "outBiddingZone_Domain": region})
    return params


_RESOLUTION = re.compile(r"^PT(\d+)M$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    for child in node:
        if _local(child.tag) == name:
            return child
    return None


def _text(node: ET.Element, *path: str) -> str:
    current: ET.Element | None = node
    for name in path:
        current = None if current is None else _child(current, name)
    if current is None or current.text is None:
        raise SourceError(f"ENTSO-E document lacks {'/'.join(path)}")
    return current.text


def parse_entsoe(body: bytes) -> list[Point]:
    """Prices (EUR/MWh) or load (MW) per period point; an Acknowledgement document raises SourceError."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SourceError(f"ENTSO-E answer is not XML: {exc}") from exc
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        reason = _child(root, "Reason")
        code = _text(reason, "code") if reason is not None else "?"
        text = _text(reason, "text") if reason is not None else ""
        raise SourceError(f"ENTSO-E acknowledgement {code}: {text}")
    if kind not in ("Publication_MarketDocument", "GL_MarketDocument"):
        raise SourceError(f"unexpected ENTSO-E document {kind}")
    metric = GridMetric.PRICE if kind == "Publication_MarketDocument" else GridMetric.DEMAND
    points: list[Point] = []
    for series in (n for n in root if _local(n.tag) == "TimeSeries"):
        for period in (n for n in series if _local(n.tag) == "Period"):
            start = _iso(_text(period, "timeInterval", "start"))
            match = _RESOLUTION.match(_text(period, "resolution"))
            if match is None:
                raise SourceError(f"unsupported ENTSO-E resolution {_text(period, 'resolution')}")
            step = int(match.group(1)) * 60
            for point in (n for n in period if _local(n.tag) == "Point"):
                position = int(_text(point, "position"))
                raw = _child(point, "price.amount") if metric is GridMetric.PRICE else _child(point, "quantity")
                if raw is None or raw.text is None:
                    raise SourceError("ENTSO-E point without a value")
                begin = start + (position - 1) * step
                points.append(Point(metric, begin, begin + step, float(raw.text)))
    return points
