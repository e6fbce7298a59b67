"""GRIDWATCH_TIMEZONE: every workload's settings read it, reject unknown names at start, and the tariff follows it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from gridwatch.api.settings import ApiSettings
from gridwatch.common.settings import CommonSettings
from gridwatch.optimizer.tariff import Tariff
from pydantic import ValidationError


def test_common_settings_read_the_site_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().timezone == "UTC"
    monkeypatch.setenv("GRIDWATCH_TIMEZONE", "Europe/Berlin")
    assert CommonSettings().timezone == "Europe/Berlin"


def test_an_unknown_zone_fails_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ValidationError) as info:
        ApiSettings()
    text = str(info.value)
    assert "timezone" in text and "unknown IANA time zone 'Europe/Atlantis'" in text


def test_the_api_tariff_prices_hours_in_the_site_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    # before, the optimizer read GRIDWATCH_OPT_TIMEZONE, which nothing set: spec.timezone never reached the tariff
    monkeypatch.setenv("GRIDWATCH_TIMEZONE", "Asia/Tokyo")
    tariff = Tariff.from_settings(ApiSettings())
    assert tariff.zone == "Asia/Tokyo"
    peak_tokyo = dt.datetime(2026, 6, 1, 18, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()  # 09:00 UTC
    assert tariff.is_peak(peak_tokyo)
    assert tariff.price_at(peak_tokyo) == ApiSettings().peak_price
