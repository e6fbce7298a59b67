"""Each suggestion rule on data where the right answer is known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from gridwatch.optimizer.rules import (
    MachineSeries,
    SensorHealth,
    efficiency,
    energy_cost,
    maintenance,
    money_priority,
    operational,
    peak_shifting,
    trend_per_hour,
)
from gridwatch.optimizer.settings import OptimizerSettings, Period
from gridwatch.optimizer.tariff import Tariff

DAY = dt.datetime(2024, 1, 3, tzinfo=dt.UTC).timestamp()  # a Wednesday, UTC midnight
HOURS = np.asarray(DAY + np.arange(24) * 3600.0, dtype=np.float64)


def settings(**kw: object) -> OptimizerSettings:
    return OptimizerSettings.model_validate({"GRIDWATCH_OPT_BUCKET_S": 3600, **kw})


def hourly(machine: str, kw_of_hour: list[float], output: float | None = None) -> MachineSeries:
    kw = np.asarray(kw_of_hour, dtype=np.float64)
    return MachineSeries(machine, [f"{machine}-power"], HOURS.copy(), kw, kw * 1.0, output)


def test_tariff_two_rates_and_periods() -> None:
    t = Tariff.from_settings(settings())
    assert t.price_at(DAY + 17 * 3600) == 0.32 and t.price_at(DAY + 20.99 * 3600) == 0.32
    assert t.price_at(DAY + 21 * 3600) == 0.18 and t.price_at(DAY + 3 * 3600) == 0.18
    assert t.is_peak(DAY + 18 * 3600) and not t.is_peak(DAY + 12 * 3600)
    custom = Tariff(
        (
            Period(name="night", start_hour=22, end_hour=6, price=0.1),
            Period(name="day", start_hour=6, end_hour=22, price=0.25, days=(0, 1, 2, 3, 4)),
        ),
        "GBP",
        "Europe/London",
    )
    assert custom.price_at(DAY + 23 * 3600) == 0.1 and custom.price_at(DAY + 12 * 3600) == 0.25
    saturday_noon = DAY + 3 * 86400 + 12 * 3600
    assert custom.price_at(saturday_noon) == 0.1  # no period covers it: cheapest price


def test_peak_shifting_moves_flexible_peak_load() -> None:
    s = settings()
    peaky = hourly("m1", [100.0 if 17 <= h < 21 else 20.0 for h in range(24)])
    flat = hourly("m2", [50.0] * 24)
    found = peak_shifting([peaky, flat], Tariff.from_settings(s), s)
    assert [x.id for x in found] == ["peak_shifting:m1"]
    x = found[0]
    # base 20 kW (10th percentile); flexible = 4 h * 100 kWh * (1 - 20/100) = 320; shifted 30 % = 96 kWh
    assert x.evidence["flexible_kwh"] == pytest.approx(320.0)
    assert x.evidence["shifted_kwh"] == pytest.approx(96.0)
    assert x.estimated_saving_currency == pytest.approx(96.0 * (0.32 - 0.18))
    assert x.estimated_saving_kwh == 0.0  # shifting saves money, not energy
    assert x.priority == pytest.approx(money_priority(13.44, 5.0)) and 0 < x.priority < 100


def test_maintenance_flags_high_rising_or_persistent_risk() -> None:
    s = settings()
    t = np.asarray(DAY + np.arange(7) * 600.0, dtype=np.float64)
    ramp = np.asarray(np.linspace(0.0, 0.25, 7), dtype=np.float64)
    rising = SensorHealth("m1-vibration", "m1", 0.1, t, ramp, 0, 60)
    calm = SensorHealth("m2-vibration", "m2", 0.05, t, np.full(7, 0.05), 0, 60)
    noisy = SensorHealth("m3-current", "m3", 0.05, t, np.full(7, 0.05), 30, 60)
    high = SensorHealth("m4-temperature", "m4", 0.9, t, np.full(7, 0.9), 0, 60)
    found = {x.machine: x for x in maintenance([rising, calm, noisy, high], {"m1": (1000.0, 200.0)}, s, "EUR")}
    assert set(found) == {"m1", "m3", "m4"}
    assert trend_per_hour(t, ramp) == pytest.approx(0.25)
    assert found["m1"].priority == pytest.approx(35.0)  # 0.1 now + 0.25/h over the 1 h horizon
    assert found["m1"].estimated_saving_kwh == pytest.approx(1000 * 0.05 * 0.35)
    assert found["m1"].estimated_saving_currency == pytest.approx(1000 * 0.05 * 0.35 * 0.2)
    assert found["m3"].priority == pytest.approx(50.0)  # half the recent readings anomalous
    assert found["m4"].priority == pytest.approx(90.0)
    assert found["m1"].sensors == ["m1-vibration"]


def test_efficiency_compares_power_per_output_with_peers() -> None:
    s = settings()
    peers = [hourly(f"m{i}", [50.0] * 24, output=5.0) for i in range(3)]
    hungry = hourly("m9", [80.0] * 24, output=5.0)
    loner = hourly("big", [500.0] * 24, output=50.0)
    found = efficiency([*peers, hungry, loner], Tariff.from_settings(s), s)
    assert [x.id for x in found] == ["efficiency:m9"]
    x = found[0]
    assert x.evidence["peer_median"] == pytest.approx(10.0) and x.evidence["excess"] == pytest.approx(0.6)
    assert x.estimated_saving_kwh == pytest.approx(80 * 24 * (1 - 10 / 16))
    assert x.estimated_saving_currency == pytest.approx(80 * (4 * 0.32 + 20 * 0.18) * (1 - 10 / 16))


def test_operational_finds_out_of_hours_running_and_idling() -> None:
    s = settings()
    work = [7 <= h < 19 for h in range(24)]
    left_on = hourly("a", [50.0 if w else 45.0 for w in work])
    idler = hourly("b", [50.0 if w else 2.0 for w in work])
    tidy = hourly("c", [50.0 if w else 0.2 for w in work])
    found = {x.id: x for x in operational([left_on, idler, tidy], Tariff.from_settings(s), s)}
    assert set(found) == {"operational:out_of_hours:a", "operational:idle:b"}
    assert found["operational:out_of_hours:a"].estimated_saving_kwh == pytest.approx(12 * (45 - 0.5))
    assert found["operational:idle:b"].estimated_saving_kwh == pytest.approx(12 * (2 - 0.5))
    assert found["operational:idle:b"].evidence["idle_hours"] == pytest.approx(12.0)


def test_energy_cost_prices_each_bucket() -> None:
    t = Tariff.from_settings(settings())
    kwh, cost = energy_cost([hourly("m", [10.0] * 24)], t)["m"]
    assert kwh == pytest.approx(240.0) and cost == pytest.approx(10 * (4 * 0.32 + 20 * 0.18))


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_OPT_WORK_DAYS", "5,6")
    monkeypatch.setenv(
        "GRIDWATCH_OPT_TARIFF_PERIODS", '[{"name": "flat", "startHour": 0, "endHour": 24, "pricePerKWh": 0.2}]'
    )
    monkeypatch.setenv("GRIDWATCH_ANALYTICS_TARIFF_CURRENCY", "CHF")
    s = OptimizerSettings()
    assert s.work_days == (5, 6)
    t = Tariff.from_settings(s)
    assert t.currency == "CHF" and t.price_at(DAY) == 0.2 and not t.is_peak(DAY)
    assert peak_shifting([hourly("m", [100.0] * 24)], t, s) == []  # one price: nothing to shift
