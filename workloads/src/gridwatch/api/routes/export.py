"""CSV exports of history, alerts and suggestions with the views' filters, streamed from PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from psycopg import sql

from gridwatch.api import export_queries
from gridwatch.api.csvformat import Column, CsvFormat, Decimal, Dialect, Writer, filename, number, time
from gridwatch.api.db import Database, DbDep
from gridwatch.api.deps import SettingsDep
from gridwatch.api.openapi import problems
from gridwatch.api.routes.history import time_range
from gridwatch.api.routes.optimization import Kind
from gridwatch.api.suggestions import Suggestions
from gridwatch.common.schema import UNITS, SensorType, Severity

router = APIRouter(prefix="/export", tags=["export"])
MAX_HISTORY_S: Final = 366 * 86400  # a year of one-minute rows per request; longer periods in several files


def csv_ok(description: str) -> dict[int | str, dict[str, Any]]:
    """The 200 answer of an export: a CSV body, streamed."""
    return {
        200: {
            "description": description + " Streamed (chunked); the header line names each column with its unit.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }


FormatQuery = Annotated[
    CsvFormat,
    Query(
        description="`csv`: RFC 4180 (comma, CRLF, UTF-8). `excel`: the same with a UTF-8 byte-order mark, so "
        "Excel shows °C and non-ASCII names right"
    ),
]
DecimalQuery = Annotated[
    Decimal,
    Query(description="Decimal mark: `point` (fields separated by `,`) or `comma` (fields separated by `;`)"),
]

HISTORY_COLUMNS: Final = (
    Column("time", time),
    Column("sensor_id"),
    Column("sensor_type"),
    Column("unit"),
    Column("readings", number),
    Column("mean", number),
    Column("min", number),
    Column("max", number),
    Column("last", number),
    Column("energy_kwh", number),
    Column("anomalies", number),
)
ALERT_COLUMNS: Final = (
    Column("id", number),
    Column("fingerprint"),
    Column("rule"),
    Column("sensor_id"),
    Column("machine"),
    Column("severity"),
    Column("state"),
    Column("message"),
    Column("value", number),
    Column("count", number),
    Column("first_seen", time),
    Column("last_seen", time),
    Column("acknowledged_at", time),
    Column("acknowledged_by"),
    Column("cleared_at", time),
)
SUGGESTION_COLUMNS: Final = (
    Column("id"),
    Column("kind"),
    Column("priority", number),
    Column("title"),
    Column("description"),
    Column("machine"),
    Column("sensors"),
    Column("estimated_saving_kwh", number),
    Column("estimated_saving_cost", number),
    Column("currency"),
    Column("generated_at", time),
    Column("evidence"),
)


_UNIT_OF_TYPE: Final = {t.value: unit for t, unit in UNITS.items()}


def _history_row(row: Sequence[Any]) -> tuple[Any, ...]:
    ts, sensor, sensor_type, *rest = row
    return (ts, sensor, sensor_type, _UNIT_OF_TYPE.get(sensor_type), *rest)


async def _chunks(
    db: Database,
    writer: Writer,
    query: sql.Composed,
    params: dict[str, Any],
    shape: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
) -> AsyncGenerator[bytes]:
    """The header and the first batch in one chunk (so a PostgreSQL failure is still an error answer), then a chunk
    per batch; formatting runs in a worker thread so a long export does not stall the event loop."""
    head = writer.header()
    async with contextlib.aclosing(export_queries.stream(db, query, params)) as batches:
        async for rows in batches:
            shaped = rows if shape is None else map(shape, rows)  # lazy: shaped in the worker thread too
            body = await asyncio.to_thread(writer.rows, shaped) if rows else b""
            yield head + body
            head = b""


async def _respond(chunks: AsyncGenerator[bytes], name: str, dialect: Dialect) -> StreamingResponse:
    first = await anext(chunks)  # raises here, before any byte is sent, when PostgreSQL fails

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # the cursor's connection goes back to the pool, also on a client disconnect

    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # reverse proxies pass the stream on instead of buffering the whole file
    }
    return StreamingResponse(body(), media_type=dialect.media_type, headers=headers)


@router.get(
    "/history.csv",
    operation_id="exportHistory",
    response_class=StreamingResponse,
    responses={
        **csv_ok("One row per sensor and minute (the rollups the history charts aggregate)."),
        **problems(422, 503),
    },
)
async def export_history(
    db: DbDep,
    settings: SettingsDep,
    sensor: Annotated[str | None, Query(min_length=1, max_length=128, description="Only this sensor")] = None,
    type: Annotated[SensorType | None, Query(description="Only sensors of this type")] = None,
    start: Annotated[
        str | None, Query(alias="from", max_length=64, description="Start (epoch s or ISO 8601; default 24 h ago)")
    ] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64, description="End, exclusive (default now)")] = None,
    format: FormatQuery = CsvFormat.CSV,
    decimal: DecimalQuery = Decimal.POINT,
) -> StreamingResponse:
    """The one-minute rollups of [from, to) (at most 366 days) per sensor: readings, mean/min/max/last in the
    sensor type's `unit`, energy in kWh, anomalous readings; times in the site's zone with their UTC offset."""
    fr, to = time_range(start, end)
    if to - fr > MAX_HISTORY_S:
        raise HTTPException(422, f"from/to span {(to - fr) / 86400:.1f} days; an export covers at most 366 days")
    dialect = Dialect(format, decimal, settings.timezone)
    sensor_type = None if type is None else type.value
    params = {"site": db.site, "start": fr, "end": to, "sensor": sensor, "type": sensor_type}
    query = export_queries.history_query(sensor, sensor_type)
    chunks = _chunks(db, Writer(HISTORY_COLUMNS, dialect), query, params, _history_row)
    return await _respond(chunks, filename("history", db.site, fr, to, settings.timezone), dialect)


@router.get(
    "/alerts.csv",
    operation_id="exportAlerts",
    response_class=StreamingResponse,
    responses={
        **csv_ok("Every alert the list endpoint pages through with these filters, in its order."),
        **problems(422, 503),
    },
)
async def export_alerts(
    db: DbDep,
    settings: SettingsDep,
    state: Annotated[Literal["active", "acknowledged", "cleared"] | None, Query(description="Lifecycle state")] = None,
    severity: Annotated[Severity | None, Query(description="Severity")] = None,
    sensor: Annotated[str | None, Query(min_length=1, max_length=128, description="Sensor id")] = None,
    format: FormatQuery = CsvFormat.CSV,
    decimal: DecimalQuery = Decimal.POINT,
) -> StreamingResponse:
    """Alerts, most recently seen first, with the filters of GET /api/v1/alerts and no paging."""
    dialect = Dialect(format, decimal, settings.timezone)
    sev = None if severity is None else severity.value
    params = {"site": db.site, "state": state, "severity": sev, "sensor": sensor}
    query = export_queries.alerts_query(state, sev, sensor)
    chunks = _chunks(db, Writer(ALERT_COLUMNS, dialect), query, params)
    return await _respond(chunks, filename("alerts", db.site), dialect)


@router.get(
    "/suggestions.csv",
    operation_id="exportSuggestions",
    response_class=StreamingResponse,
    responses={
        **csv_ok("The optimization suggestions, highest priority first, with their savings."),
        **problems(422, 503),
    },
)
async def export_suggestions(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    kind: Annotated[Kind | None, Query(description="Only suggestions of this kind")] = None,
    min_priority: Annotated[float, Query(ge=0, le=100, description="Only suggestions at least this urgent")] = 0.0,
    format: FormatQuery = CsvFormat.CSV,
    decimal: DecimalQuery = Decimal.POINT,
) -> StreamingResponse:
    """The suggestions of GET /api/v1/optimization/suggestions with the same filters, all pages; the saving's cost
    is in `currency` (the site's tariff) over the suggestions' window."""
    service: Suggestions = request.app.state.suggestions
    result = await service.get(db)
    picked = [i for i in result.items if (kind is None or i.kind == kind.value) and i.priority >= min_priority]
    dialect = Dialect(format, decimal, settings.timezone)
    writer = Writer(SUGGESTION_COLUMNS, dialect)
    rows = []
    for item in picked:
        s = item.to_json()
        rows.append(
            (
                s["id"], s["kind"], s["priority"], s["title"], s["description"], s["machine"], " ".join(s["sensors"]),
                s["estimated_saving_kwh"], s["estimated_saving_currency"], result.currency, result.generated_at,
                json.dumps(s["evidence"], sort_keys=True, separators=(",", ":")),
            )
        )  # fmt: skip

    async def chunks() -> AsyncGenerator[bytes]:
        yield writer.header() + writer.rows(rows)

    return await _respond(chunks(), filename("suggestions", db.site), dialect)
