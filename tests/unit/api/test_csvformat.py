"""CSV dialects of the exports: RFC 4180 and Excel-friendly text, site-local ISO times, quoting, decimal marks."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from gridwatch.api.csvformat import BOM, Column, CsvFormat, Decimal, Dialect, Writer, filename, number, time

COLUMNS = (Column("time", time), Column("sensor_id"), Column("unit"), Column("mean", number))
BERLIN = "Europe/Berlin"


def test_rfc4180_has_crlf_commas_no_bom_and_quotes_what_needs_it() -> None:
    w = Writer(COLUMNS, Dialect(CsvFormat.CSV, Decimal.POINT, "UTC"))
    body = w.header() + w.rows([(0.0, 'a,"b"', "°C", 1.5), (60.0, "c", None, None)])
    assert body.decode() == (
        'time,sensor_id,unit,mean\r\n1970-01-01T00:00:00+00:00,"a,""b""",°C,1.5\r\n1970-01-01T00:01:00+00:00,c,,\r\n'
    )
    assert list(csv.reader(io.StringIO(body.decode(), newline="")))[1][1] == 'a,"b"'


def test_excel_starts_with_a_bom_and_the_comma_decimal_switches_to_semicolons() -> None:
    w = Writer(COLUMNS, Dialect(CsvFormat.EXCEL, Decimal.COMMA, "UTC"))
    body = (w.header() + w.rows([(0.0, "s", "kW", 0.1 + 0.2)])).decode("utf-8")
    assert body.startswith(BOM + "time;sensor_id;unit;mean\r\n")
    assert body.endswith(";s;kW;0,30000000000000004\r\n")  # the shortest text that reads back as the same float


def test_times_are_local_with_the_offset_of_the_day_across_dst() -> None:
    d = Dialect(CsvFormat.CSV, Decimal.POINT, BERLIN)
    before = dt.datetime(2026, 3, 29, 1, 59, tzinfo=ZoneInfo(BERLIN)).timestamp()
    assert d.time(before) == "2026-03-29T01:59:00+01:00"
    assert d.time(before + 60) == "2026-03-29T03:00:00+02:00"  # 02:00 does not exist on that day
    assert dt.datetime.fromisoformat(d.time(before + 60)).timestamp() == before + 60
    assert d.time(None) == ""


def test_integers_stay_integers_and_the_filename_names_site_kind_and_local_span() -> None:
    d = Dialect(CsvFormat.CSV, Decimal.COMMA, BERLIN)
    assert d.number(12) == "12" and d.number(2.5) == "2,5" and d.number(None) == ""
    start = dt.datetime(2026, 3, 1, tzinfo=ZoneInfo(BERLIN)).timestamp()
    assert filename("history", "gw.plant/north", start, start + 86400, BERLIN) == (
        "gw.plant_north-history-20260301T0000_20260302T0000.csv"
    )
    assert filename("alerts", "gw.plant-north") == "gw.plant-north-alerts.csv"
