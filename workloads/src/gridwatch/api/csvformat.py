"""CSV for exports: RFC 4180 for programs or Excel-friendly (UTF-8 BOM, decimal comma), site-local ISO times."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from gridwatch.common import sitetime

BOM: Final = "\ufeff"


class CsvFormat(StrEnum):
    """`csv`: RFC 4180 (comma, CRLF, UTF-8, no BOM). `excel`: a UTF-8 BOM first, so Excel reads °C and € right."""

    CSV = "csv"
    EXCEL = "excel"


class Decimal(StrEnum):
    """Decimal mark of numbers; `comma` (with `;` between fields) is what Excel expects in most of Europe."""

    POINT = "point"
    COMMA = "comma"


@dataclass(frozen=True)
class Dialect:
    """How one export writes its fields: separator, decimal mark, BOM and the zone of its timestamps."""

    format: CsvFormat
    decimal: Decimal
    timezone: str

    @property
    def delimiter(self) -> str:
        """`;` when numbers carry a decimal comma, `,` otherwise (no `sep=` line: Excel ignores the BOM after one)."""
        return ";" if self.decimal is Decimal.COMMA else ","

    @property
    def media_type(self) -> str:
        """The Content-Type, with the header= parameter of RFC 4180."""
        return "text/csv; charset=utf-8; header=present"

    def time(self, ts: float | None) -> str:
        """ISO 8601 in the site's zone with its UTC offset, to the second (empty for none)."""
        if ts is None:
            return ""
        return sitetime.local(ts, self.timezone).isoformat(timespec="seconds")

    def number(self, value: float | int | None) -> str:
        """Shortest round-trip text of a number (empty for none), with the dialect's decimal mark."""
        if value is None:
            return ""
        text = repr(float(value)) if isinstance(value, float) else str(value)
        return text.replace(".", ",") if self.decimal is Decimal.COMMA else text


Cell = Callable[[Dialect, Any], str]


def text(_: Dialect, value: Any) -> str:
    """A text cell (empty for none)."""
    return "" if value is None else str(value)


def time(d: Dialect, value: Any) -> str:
    """A timestamp cell from epoch seconds."""
    return d.time(None if value is None else float(value))


def number(d: Dialect, value: Any) -> str:
    """A numeric cell."""
    return d.number(value)


@dataclass(frozen=True)
class Column:
    """One field of an export: its header (units in the name) and how a row's value becomes text."""

    header: str
    cell: Cell = text


class Writer:
    """Turns rows into encoded CSV chunks: the header (after the BOM for Excel) first, then each batch of rows."""

    def __init__(self, columns: Sequence[Column], dialect: Dialect) -> None:
        self.columns = tuple(columns)
        self.dialect = dialect
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, delimiter=dialect.delimiter, lineterminator="\r\n")

    def _take(self) -> bytes:
        out = self._buffer.getvalue().encode()
        self._buffer.seek(0)
        self._buffer.truncate()
        return out

    def header(self) -> bytes:
        """The header line, with the BOM in front for Excel."""
        if self.dialect.format is CsvFormat.EXCEL:
            self._buffer.write(BOM)
        self._csv.writerow(c.header for c in self.columns)
        return self._take()

    def rows(self, rows: Iterable[Sequence[Any]]) -> bytes:
        """Rows (one value per column, in order) as CSV lines."""
        d = self.dialect
        cells = [c.cell for c in self.columns]
        self._csv.writerows([cell(d, v) for cell, v in zip(cells, row, strict=True)] for row in rows)
        return self._take()


def filename(kind: str, site: str, start: float | None = None, end: float | None = None, zone: str = "UTC") -> str:
    """`<site>-<kind>[-<local from>_<local to>].csv`, safe in a Content-Disposition header."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in site)
    span = ""
    if start is not None and end is not None:

        def day(ts: float) -> str:
            return sitetime.local(ts, zone).strftime("%Y%m%dT%H%M")

        span = f"-{day(start)}_{day(end)}"
    return f"{safe}-{kind}{span}.csv"
