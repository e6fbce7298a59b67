"""History query helpers: time parsing, default step, bucket counting."""

from __future__ import annotations

import pytest
from gridwatch.api.history_query import bucket_count, default_step, parse_time


def test_parse_time_accepts_epoch_and_iso() -> None:
    assert parse_time("1700000000") == 1_700_000_000.0
    assert parse_time("1700000000.5") == 1_700_000_000.5
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_time("2023-11-14T23:13:20+01:00") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20") == 1_700_000_000.0  # naive = UTC
    for bad in ("yesterday", "-5", "nan", ""):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_default_step_keeps_at_most_500_points() -> None:
    assert default_step(0, 3600) == 60
    for span in (3600, 86400, 7 * 86400, 30 * 86400, 12345.0):
        for start in (0.0, 17.0, 1_700_000_031.0):
            step = default_step(start, start + span)
            assert step % 60 == 0
            assert bucket_count(start, start + span, step) <= 500
            if step > 60:  # the next smaller step would exceed 500 points somewhere
                assert span / (step - 60) > 498


def test_bucket_count() -> None:
    assert bucket_count(0, 60, 60) == 1
    assert bucket_count(0, 61, 60) == 2
    assert bucket_count(30, 90, 60) == 2
    assert bucket_count(10, 10, 60) == 0
