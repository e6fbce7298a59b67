"""Grid adapters on documents in the APIs' documented formats, including their error documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gridwatch.common.schema import (
    GRID_UNITS,
    SCHEMA_VERSION,
    GridMetric,
    GridSignal,
    InvalidMessage,
    decode_grid,
    encode_grid,
)
from gridwatch.grid.adapters import (
    SourceError,
    carbon_intensity_paths,
    entsoe_params,
    parse_carbon_intensity,
    parse_entsoe,
)

from tests.utils import grid_docs


def test_carbon_intensity_prefers_actual_and_marks_forecasts() -> None:
    points = parse_carbon_intensity("/intensity", grid_docs.INTENSITY)
    assert [(p.value, p.forecast) for p in points] == [(204.0, False), (198.0, True)]
    assert points[0].end_ts - points[0].start_ts == 1800
    mix = parse_carbon_intensity("/generation", grid_docs.GENERATION)
    assert {p.fuel: p.value for p in mix} == {"gas": 38.2, "wind": 31.5, "solar": 2.1}
    assert {p.metric for p in mix} == {GridMetric.GENERATION_SHARE}


def test_carbon_intensity_error_document() -> None:
    with pytest.raises(SourceError, match="400 Bad Request: Please enter a valid ISO 8601 date"):
        parse_carbon_intensity("/intensity", grid_docs.CI_ERROR)


def test_entsoe_prices_and_load_by_position_and_resolution() -> None:
    prices = parse_entsoe(grid_docs.prices([80.5, 75.0, 91.25]))
    assert [p.value for p in prices] == [80.5, 75.0, 91.25]
    assert {p.metric for p in prices} == {GridMetric.PRICE}
    assert prices[1].start_ts - prices[0].start_ts == 3600
    load = parse_entsoe(grid_docs.load([31000, 30500]))
    assert load[0].metric is GridMetric.DEMAND and load[1].start_ts - load[0].start_ts == 900


def test_entsoe_acknowledgement_and_garbage() -> None:
    with pytest.raises(SourceError, match="acknowledgement 999: No matching data"):
        parse_entsoe(grid_docs.acknowledgement())
    with pytest.raises(SourceError, match="not XML"):
        parse_entsoe(b"<html")


def test_grid_signal_round_trip_and_validation() -> None:
    signal = GridSignal(
        schema_version=SCHEMA_VERSION, site="s", source="gb", region="GB", metric=GridMetric.CARBON_INTENSITY,
        unit=GRID_UNITS[GridMetric.CARBON_INTENSITY], start_ts=1.0, end_ts=2.0, value=200.0, fetched_ts=3.0,
    )  # fmt: skip
    assert decode_grid(encode_grid(signal)) == signal
    import msgspec

    wrong = msgspec.structs.replace(signal, unit="kg")
    with pytest.raises(InvalidMessage, match="unit"):
        decode_grid(encode_grid(wrong))
    with pytest.raises(InvalidMessage, match="end_ts"):
        decode_grid(encode_grid(msgspec.structs.replace(signal, end_ts=0.5)))


def test_carbon_intensity_polls_the_next_24_hours_for_planning() -> None:
    now = datetime(2026, 12, 1, 9, 17, 42, tzinfo=UTC)
    assert carbon_intensity_paths(now) == ["/intensity", "/intensity/2026-12-01T09:17Z/fw24h", "/generation"]
    # the forecast document has the same shape: each half hour is a (forecast) carbon intensity
    points = parse_carbon_intensity("/intensity/2026-12-01T09:17Z/fw24h", grid_docs.INTENSITY)
    assert points and {p.metric for p in points} == {GridMetric.CARBON_INTENSITY}


def test_entsoe_asks_for_today_and_tomorrows_day_ahead_prices_and_todays_load() -> None:
    now = datetime(2026, 12, 1, 21, 5, tzinfo=UTC)
    prices = entsoe_params("A44", "10YBE----------2", "tok", now)
    assert (prices["periodStart"], prices["periodEnd"]) == ("202612010000", "202612030000")
    assert prices["in_Domain"] == prices["out_Domain"] == "10YBE----------2"
    load = entsoe_params("A65", "10YBE----------2", "tok", now)
    assert (load["periodStart"], load["periodEnd"]) == ("202612010000", "202612020000")
