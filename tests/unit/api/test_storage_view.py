"""The API's storage plan view carries where the plan's prices and carbon came from, and its carbon figures."""

from __future__ import annotations

from gridwatch.api.routes.storage import view
from gridwatch.common.schema import SCHEMA_VERSION, BatteryDispatch, DispatchPlan


def _plan(carbon: list[float]) -> DispatchPlan:
    return DispatchPlan(
        schema_version=SCHEMA_VERSION, site="s", plan_id="p1", created_ts=1000.0, start_ts=900.0, step_s=900.0,
        status="optimal", message="", solve_time_s=0.01, forecast="forecaster", currency="EUR",
        load_kw=[10.0, 20.0], import_price_per_kwh=[0.1, 0.3], export_price_per_kwh=[0.0, 0.0],
        grid_import_kw=[15.0, 12.0],
        batteries=[BatteryDispatch(name="b", p_batt_kw=[-5.0, 8.0], soc_frac=[0.5, 0.6, 0.4], capacity_kwh=50.0)],
        expected_cost=1.0, cost_without_battery=1.2, savings=0.2, peak_import_kw=15.0,
        peak_import_without_battery_kw=20.0, price_source="day-ahead (entsoe)", carbon_source="gb-carbon-intensity",
        carbon_kg_per_kwh=carbon, carbon_weight_per_kg=0.05, carbon_kg=3.0, carbon_kg_without_battery=3.4,
    )  # fmt: skip


def test_the_view_says_which_prices_and_carbon_the_plan_used() -> None:
    v = view(_plan([0.2, 0.35]))
    assert (v.price_source, v.carbon_source) == ("day-ahead (entsoe)", "gb-carbon-intensity")
    assert (v.carbon_weight_per_kg, v.carbon_kg, v.carbon_kg_without_battery) == (0.05, 3.0, 3.4)
    assert [s.carbon_kg_per_kwh for s in v.schedule] == [0.2, 0.35]
    assert [s.battery_kw for s in v.schedule] == [-5.0, 8.0] and v.schedule[1].soc_frac == 0.4


def test_a_plan_without_a_carbon_term_has_no_per_step_intensity() -> None:
    assert [s.carbon_kg_per_kwh for s in view(_plan([])).schedule] == [None, None]
