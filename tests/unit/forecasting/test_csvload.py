"""Reading CSVs for the backtest: grids, steps, and errors that name the line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from gridwatch.forecasting.csvload import CsvError, parse_step, parse_timestamp, read_series


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


def test_nab_style_file_on_its_median_step(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-01 00:{m:02d}:00,{m}\n" for m in range(0, 60, 5))
    p = read_series(_write(tmp_path, "timestamp,value\n" + rows))
    assert p.step_s == 300.0
    assert p.length == 12
    assert p.values[0, :3].tolist() == [0.0, 5.0, 10.0]


def test_rows_are_averaged_into_a_coarser_step_and_gaps_stay_missing(tmp_path: Path) -> None:
    text = "ts,kw,other\n0,1,x\n600,3,x\n3600,10,x\n10800,4,x\n"
    p = read_series(_write(tmp_path, text), "ts", "kw", parse_step("1h"))
    assert p.values[0, :2].tolist() == [2.0, 10.0]
    assert math.isnan(p.values[0, 2])
    assert p.values[0, 3] == 4.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T01:00:00,abc\n", "line 3: value 'abc' is not a number"),
        ("timestamp,value\n2024-01-01T00:00:00,1\nyesterday,2\n", "line 3: cannot read the timestamp 'yesterday'"),
        ("timestamp,value\n0,1\n3600,2,3\n", "line 3: 3 fields, the header has 2"),
        ("time,value\n0,1\n", "line 1: no column 'timestamp'"),
        ("", "the file is empty"),
        ("timestamp,value\n0,inf\n", "line 2: value 'inf' is not finite"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CsvError, match=message):
        read_series(_write(tmp_path, text))


def test_steps_and_timestamps() -> None:
    assert parse_step("30min") == 1800.0
    assert parse_step("1h") == 3600.0
    assert parse_step("900") == 900.0
    with pytest.raises(ValueError, match="divide a day"):
        parse_step("7min")
    assert parse_timestamp("1970-01-01T01:00:00Z") == 3600.0
    assert parse_timestamp("1700000000000") == 1_700_000_000.0
