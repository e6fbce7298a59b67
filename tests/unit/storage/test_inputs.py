"""The storage workload's inputs: tariff hours and billing windows in the site's time zone, the seasonal-naive
forecast, the reported SOC, the settings' cross-field rules and the wire messages."""

from __future__ import annotations

import datetime as dt
import math
import os
from unittest import mock
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest
from gridwatch.api.routes.storage import view
from gridwatch.common.schema import (
    SCHEMA_VERSION,
    BatteryDispatch,
    Command,
    CommandKind,
    DispatchPlan,
    InvalidMessage,
    decode,
    encode,
)
from gridwatch.storage import inputs
from gridwatch.storage.planner import plan
from gridwatch.storage.problem import PlanStatus
from gridwatch.storage.runner import to_message
from gridwatch.storage.settings import BatteryConfig, StorageSettings
from pydantic import ValidationError


def settings(**env: str) -> StorageSettings:
    """Settings as the workload reads them: from the environment (only these GRIDWATCH_ variables)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        return StorageSettings()


def test_tariff_hours_follow_the_site_time_zone() -> None:
    s = settings(GRIDWATCH_TIMEZONE="Europe/Berlin")
    # 16:00 UTC in January is 17:00 in Berlin: peak there, not in UTC
    ts = dt.datetime(2026, 1, 15, 16, 0, tzinfo=dt.UTC).timestamp()
    assert inputs.import_prices(s, [ts]) == [s.peak_price]
    assert inputs.import_prices(settings(), [ts]) == [s.offpeak_price]
    # in July Berlin is UTC+2: 15:00 UTC is 17:00 local
    summer = dt.datetime(2026, 7, 15, 15, 0, tzinfo=dt.UTC).timestamp()
    assert inputs.import_prices(s, [summer]) == [s.peak_price]


def test_billing_windows_are_local_calendar_months() -> None:
    s = settings(GRIDWATCH_TIMEZONE="America/New_York")
    # 03:00 UTC on 1 February is still 31 January in New York
    ts = dt.datetime(2026, 2, 1, 3, 0, tzinfo=dt.UTC).timestamp()
    assert inputs.billing_windows(s, [ts, ts + 6 * 3600]) == [202601, 202602]


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        settings(GRIDWATCH_TIMEZONE="Mars/Olympus")


def test_battery_cross_field_rules() -> None:
    with pytest.raises(ValidationError, match="socMin must be below socMax"):
        BatteryConfig(capacity_kwh=10, power_kw=5, soc_min=0.8, soc_max=0.2)
    with pytest.raises(ValidationError, match="socTarget must lie within"):
        BatteryConfig(capacity_kwh=10, power_kw=5, soc_min=0.2, soc_max=0.8, soc_target=0.9)
    with pytest.raises(ValidationError, match="charge power must be > 0"):
        BatteryConfig(capacity_kwh=10, power_kw=0)
    b = BatteryConfig(capacity_kwh=10, power_kw=5, efficiency=0.81, soc_min=0.2, soc_max=0.8)
    assert b.target == pytest.approx(0.5)
    assert inputs.to_battery(b).charge_efficiency == pytest.approx(0.9)


def test_batteries_from_the_energysite_env() -> None:
    assert settings().batteries == []  # no capacity: no battery to plan
    one = settings(GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH="500", GRIDWATCH_ANALYTICS_BATTERY_POWER_KW="250")
    assert [(b.name, b.capacity_kwh, b.charge_kw) for b in one.batteries] == [("battery", 500.0, 250.0)]
    many = settings(
        GRIDWATCH_ANALYTICS_BATTERIES='[{"name": "a", "capacityKWh": 10, "powerKW": 5},'
        ' {"name": "b", "capacityKWh": 20, "powerKW": 5, "dischargePowerKW": 3}]'
    )
    assert [(b.name, b.discharge_kw) for b in many.batteries] == [("a", 5.0), ("b", 3.0)]


def test_seasonal_naive_uses_yesterday_and_says_where_it_failed() -> None:
    start = 1_767_225_600.0 + 86400.0
    starts = inputs.step_starts(start, 900.0, 4)
    # per-minute history of yesterday's first half hour only: 10 kW then 20 kW
    history = [(start - 86400.0 + 60.0 * m, 10.0 if m < 15 else 20.0) for m in range(30)]
    f = inputs.seasonal_naive(history, starts, 900.0, live_kw=7.0)
    assert f.load_kw == [10.0, 20.0, 7.0, 7.0]
    assert f.source == "seasonal_naive_partial"
    assert inputs.seasonal_naive([], starts, 900.0, live_kw=7.0).source == "persistence"
    assert inputs.seasonal_naive([], starts, 900.0, live_kw=None).load_kw == [0.0] * 4


def test_reported_soc_must_be_fresh_and_valid() -> None:
    now = 1000.0
    assert inputs.battery_soc(b'{"soc_frac": 0.4, "p_kw": 1, "ts": 990}', now, 60) == 0.4
    assert inputs.battery_soc(b'{"soc_frac": 0.4, "ts": 100}', now, 60) is None  # stale
    assert inputs.battery_soc(b'{"soc_frac": 1.4, "ts": 990}', now, 60) is None  # impossible
    assert inputs.battery_soc(b"not json", now, 60) is None
    assert inputs.battery_soc(None, now, 60) is None


def test_reported_battery_power_counts_only_when_fresh() -> None:
    now = 1000.0
    assert inputs.battery_kw(b'{"soc_frac": 0.4, "p_kw": -12.5, "ts": 990}', now, 60) == -12.5
    assert inputs.battery_kw(b'{"soc_frac": 0.4, "p_kw": 30, "ts": 100}', now, 60) == 0.0  # stale
    assert inputs.battery_kw(b"not json", now, 60) == 0.0
    assert inputs.battery_kw(None, now, 60) == 0.0


def _message() -> DispatchPlan:
    s = settings(GRIDWATCH_ANALYTICS_BATTERY_CAPACITY_KWH="10", GRIDWATCH_ANALYTICS_BATTERY_POWER_KW="2")
    from gridwatch.storage.problem import PlanRequest

    start = 1_767_225_600.0
    starts = inputs.step_starts(start, 3600.0, 24)
    req = PlanRequest(
        start_ts=start,
        step_s=3600.0,
        load_kw=[3.0] * 24,
        import_price_per_kwh=inputs.import_prices(s, starts.tolist()),
        export_price_per_kwh=[0.0] * 24,
        batteries=[inputs.to_battery(b) for b in s.batteries],
        soc_initial_frac=[0.5],
    )
    res = plan(req)
    assert res.status is PlanStatus.OPTIMAL
    return to_message(s, res, "persistence", start)


def test_dispatch_plan_round_trips_and_is_checked_on_decode() -> None:
    msg = _message()
    back = decode(encode(msg))
    assert back == msg
    assert msg.savings > 0  # the two-rate tariff pays for shifting 17-21 h
    bad = msgspec.structs.replace(msg, load_kw=[*msg.load_kw[:-1], math.nan])
    with pytest.raises(InvalidMessage, match="finite"):
        decode(encode(bad))
    short = msgspec.structs.replace(msg, batteries=[BatteryDispatch("battery", [0.0], [0.5, 0.5], 10.0)])
    with pytest.raises(InvalidMessage, match="entries per step"):
        decode(encode(short))


def test_command_round_trips() -> None:
    c = Command(
        schema_version=SCHEMA_VERSION,
        site="s",
        command_id="c1",
        ts=10.0,
        target="battery",
        kind=CommandKind.BATTERY_SETPOINT,
        setpoint_kw=-2.0,
        valid_until_ts=910.0,
        plan_id="p",
        reason="plan step",
    )
    assert decode(encode(c)) == c
    with pytest.raises(InvalidMessage):
        decode(encode(msgspec.structs.replace(c, setpoint_kw=math.inf)))


def test_api_view_sums_batteries_per_step() -> None:
    msg = _message()
    v = view(msg)
    assert len(v.schedule) == 24
    assert v.schedule[1].ts - v.schedule[0].ts == 3600.0
    b = msg.batteries[0]
    assert [s.battery_kw for s in v.schedule] == b.p_batt_kw
    assert [s.soc_frac for s in v.schedule] == pytest.approx(b.soc_frac[1:])
    assert v.savings == pytest.approx(v.cost_without_battery - v.expected_cost)
    # the site's tariff hours in its zone show in the schedule's prices
    local = [dt.datetime.fromtimestamp(s.ts, ZoneInfo("UTC")).hour for s in v.schedule if s.import_price_per_kwh > 0.2]
    assert local == [17, 18, 19, 20]
    assert np.isfinite([s.grid_import_kw for s in v.schedule]).all()


def test_forecaster_site_forecast_wins_where_it_reaches() -> None:
    from gridwatch.common.schema import Forecast, ForecastScope

    start = 1_767_225_600.0
    starts = inputs.step_starts(start, 900.0, 4)
    base = inputs.Forecast([7.0] * 4, "persistence")

    def forecast(scope: ForecastScope, issued: float, p50: list[float]) -> bytes:
        f = Forecast(SCHEMA_VERSION, "s", scope, "s", issued, start, 900.0, p50, p50, p50, "kW", "mstl", "1", 0.5,
                     0.8, 100)  # fmt: skip
        return msgspec.json.encode(f)

    raw = [forecast(ForecastScope.MACHINE, start, [99.0] * 4), forecast(ForecastScope.SITE, start, [10.0, 11.0])]
    f = inputs.overlay_forecaster(base, raw, starts, start + 60, 7200)
    assert f.load_kw == [10.0, 11.0, 7.0, 7.0]
    assert f.source == "forecaster mstl + persistence"
    # stale or unreadable forecasts are ignored
    assert inputs.overlay_forecaster(base, raw, starts, start + 10_000, 7200) == base
    assert inputs.overlay_forecaster(base, [b"{}"], starts, start, 7200) == base
