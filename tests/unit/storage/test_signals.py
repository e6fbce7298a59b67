"""Grid signals in the plan: day-ahead prices replace the tariff where fresh, carbon intensity enters the objective
with its weight, stale or absent signals fall back to the tariff and say why, and the schedule moves as expected."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.schema import GRID_UNITS, SCHEMA_VERSION, DispatchPlan, GridMetric, GridSignal, decode, encode
from gridwatch.storage.planner import plan
from gridwatch.storage.problem import Battery, PlanRequest, PlanResult, PlanStatus
from gridwatch.storage.runner import to_message
from gridwatch.storage.settings import StorageSettings
from gridwatch.storage.signals import GridStore, plan_signals

from tests.unit.storage.test_inputs import settings

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
SITE = "plant"
HOUR = 3600.0


def signal(
    metric: GridMetric, start: float, value: float, fetched: float, length: float = HOUR, **kw: object
) -> GridSignal:
    fields: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "site": SITE,
        "source": "entsoe" if metric is GridMetric.PRICE else "gb",
        "region": "X",
        "metric": metric,
        "unit": GRID_UNITS[metric],
        "start_ts": start,
        "end_ts": start + length,
        "value": value,
        "fetched_ts": fetched,
        **kw,
    }
    return GridSignal(**fields)  # type: ignore[arg-type]


def store_of(*signals: GridSignal) -> GridStore:
    store = GridStore()
    for s in signals:
        store.add(s, SITE)
    return store


def starts(n: int, step_s: float = HOUR) -> list[float]:
    return [T0 + i * step_s for i in range(n)]


# --- resolving signals onto plan steps ---------------------------------------------------------------------


def test_hourly_prices_cover_quarter_hour_steps_and_gaps_stay_empty() -> None:
    store = store_of(signal(GridMetric.PRICE, T0, 100.0, T0), signal(GridMetric.PRICE, T0 + HOUR, 40.0, T0))
    series = store.resolve(GridMetric.PRICE, starts(12, 900.0), 900.0, T0, 3600)
    assert series.values == [100.0] * 4 + [40.0] * 4 + [None] * 4
    assert series.covered == 8 and series.sources == ["entsoe"]


def test_a_step_gets_the_time_weighted_mean_of_finer_slots() -> None:
    store = store_of(*(signal(GridMetric.PRICE, T0 + q * 900, 10.0 * (q + 1), T0, 900) for q in range(4)))
    assert store.resolve(GridMetric.PRICE, [T0], HOUR, T0, 3600).values == [25.0]
    # a step only three quarters covered is not priced by it
    assert store.resolve(GridMetric.PRICE, [T0 + 900], HOUR, T0, 3600).values == [None]


def test_a_newer_fetch_of_the_same_interval_wins_and_other_sites_and_metrics_are_ignored() -> None:
    store = GridStore()
    assert store.add(signal(GridMetric.PRICE, T0, 50.0, T0), SITE)
    assert store.add(signal(GridMetric.PRICE, T0, 70.0, T0 + 60), SITE)
    assert store.add(signal(GridMetric.PRICE, T0, 10.0, T0 + 30), SITE)  # older fetch than the one held
    assert not store.add(signal(GridMetric.PRICE, T0, 999.0, T0 + 90, site="elsewhere"), SITE)
    assert not store.add(
        signal(GridMetric.DEMAND, T0, 3.0e4, T0 + 90, source="entsoe"), SITE
    )  # demand is not a planning input
    assert store.resolve(GridMetric.PRICE, [T0], HOUR, T0 + 100, 3600).values == [70.0]


def test_stale_signals_are_not_used_and_old_intervals_are_pruned() -> None:
    store = store_of(signal(GridMetric.PRICE, T0, 50.0, T0 - 10_000))
    assert store.resolve(GridMetric.PRICE, [T0], HOUR, T0, 7200).values == [None]
    store.prune(T0 + 3 * 86400)
    assert store.slots[GridMetric.PRICE] == {}


# --- what the plan is priced with --------------------------------------------------------------------------


def test_fresh_day_ahead_prices_replace_the_tariff_where_they_reach() -> None:
    store = store_of(signal(GridMetric.PRICE, T0, 80.0, T0), signal(GridMetric.PRICE, T0 + HOUR, -20.0, T0))
    got = plan_signals(store, starts(3), HOUR, T0 + 60, [0.3, 0.3, 0.3], "EUR", 7200, price_adder_per_kwh=0.1)
    assert got.import_price_per_kwh == pytest.approx([0.18, 0.08, 0.3])  # EUR/MWh / 1000 + adder; tariff after
    assert got.price_source == "day_ahead entsoe (2/3 steps) + tariff"
    assert got.price_coverage == pytest.approx(2 / 3)
    full = plan_signals(store, starts(2), HOUR, T0 + 60, [0.3, 0.3], "EUR", 7200)
    assert full.price_source == "day_ahead entsoe" and full.price_coverage == 1.0


@pytest.mark.parametrize(
    ("store", "currency", "reason"),
    [
        (GridStore(), "EUR", "tariff: no day-ahead prices on the grid topic"),
        (
            store_of(signal(GridMetric.PRICE, T0, 80.0, T0 - 9000)),
            "EUR",
            "tariff: day-ahead prices stale (fetched 9060 s ago, max 7200 s)",
        ),
        (
            store_of(signal(GridMetric.PRICE, T0 + 5 * HOUR, 80.0, T0)),
            "EUR",
            "tariff: day-ahead prices do not cover the horizon",
        ),
        (
            store_of(signal(GridMetric.PRICE, T0, 80.0, T0)),
            "GBP",
            "tariff: day-ahead prices are EUR/MWh, the tariff bills GBP",
        ),
    ],
    ids=["absent", "stale", "elsewhere", "currency"],
)
def test_without_usable_prices_the_plan_falls_back_to_the_tariff_and_says_why(
    store: GridStore, currency: str, reason: str
) -> None:
    got = plan_signals(store, starts(2), HOUR, T0 + 60, [0.3, 0.2], currency, 7200)
    assert got.import_price_per_kwh == [0.3, 0.2]
    assert got.price_source == reason
    assert got.price_coverage == 0.0


def test_carbon_intensity_in_kg_per_kwh_with_uncovered_steps_at_the_mean() -> None:
    store = store_of(
        signal(GridMetric.CARBON_INTENSITY, T0, 100.0, T0), signal(GridMetric.CARBON_INTENSITY, T0 + HOUR, 300.0, T0)
    )
    got = plan_signals(store, starts(3), HOUR, T0, [0.2] * 3, "EUR", 7200)
    assert got.carbon_kg_per_kwh == pytest.approx([0.1, 0.3, 0.2])
    assert got.carbon_source == "grid gb (2/3 steps, the rest at their mean)"
    assert got.carbon_coverage == pytest.approx(2 / 3)
    off = plan_signals(store, starts(3), HOUR, T0, [0.2] * 3, "EUR", 7200, use_carbon=False)
    assert off.carbon_kg_per_kwh == [] and off.carbon_source == "off (carbon weight 0)"
    stale = plan_signals(store, starts(3), HOUR, T0 + 8000, [0.2] * 3, "EUR", 7200)
    assert stale.carbon_kg_per_kwh == [] and stale.carbon_source.startswith("none: carbon intensities stale")


# --- the schedule follows the signals -----------------------------------------------------------------------


def battery(eff: float = 0.95) -> Battery:
    return Battery(
        name="b",
        capacity_kwh=10.0,
        charge_max_kw=2.0,
        discharge_max_kw=2.0,
        charge_efficiency=eff,
        discharge_efficiency=eff,
        soc_min_frac=0.1,
        soc_max_frac=0.9,
        soc_target_frac=0.5,
    )


def solve(prices: list[float], carbon: list[float] | None = None, weight: float = 0.0) -> PlanResult:
    n = len(prices)
    req = PlanRequest(
        start_ts=T0,
        step_s=HOUR,
        load_kw=[3.0] * n,
        import_price_per_kwh=prices,
        export_price_per_kwh=[0.0] * n,
        batteries=[battery()],
        soc_initial_frac=[0.5],
        carbon_kg_per_kwh=carbon or [],
        carbon_weight_per_kg=weight,
    )
    res = plan(req)
    assert res.status is PlanStatus.OPTIMAL, res.message
    return res


def p_batt(res: PlanResult) -> np.ndarray:
    return np.asarray(res.batteries[0].p_batt_kw)


def test_day_ahead_prices_move_the_schedule_from_idle_to_arbitrage() -> None:
    flat_tariff = [0.25] * 6
    idle = solve(flat_tariff)
    assert np.allclose(p_batt(idle), 0.0)  # a flat tariff gives the battery nothing to do
    # the day-ahead series: cheap at night (steps 0-1), dear in the evening (steps 4-5)
    store = store_of(
        *(signal(GridMetric.PRICE, T0 + i * HOUR, v, T0) for i, v in enumerate([40, 40, 200, 200, 400, 400]))
    )
    grid = plan_signals(store, starts(6), HOUR, T0, flat_tariff, "EUR", 7200)
    res = solve(grid.import_price_per_kwh)
    p = p_batt(res)
    assert (p[:2] < -0.5).all(), p  # charges while cheap
    assert (p[4:] > 0.5).all(), p  # discharges while dear
    assert res.expected_cost < res.cost_without_battery


def test_the_carbon_weight_moves_discharge_to_the_dirtiest_hours() -> None:
    prices = [0.25] * 6  # money alone: nothing to gain
    carbon = [0.05, 0.05, 0.2, 0.2, 0.6, 0.6]  # kg/kWh: clean night, dirty evening
    unweighted = solve(prices, carbon, weight=0.0)
    assert np.allclose(p_batt(unweighted), 0.0)
    weighted = solve(prices, carbon, weight=1.0)  # 1 EUR per kg CO2
    p = p_batt(weighted)
    assert (p[:2] < -0.5).all() and (p[4:] > 0.5).all(), p
    assert weighted.carbon_kg < weighted.carbon_kg_without_battery
    # losses cost money: the weighted plan pays a little more, for less carbon
    assert weighted.expected_cost > unweighted.expected_cost


def test_a_heavier_carbon_weight_trades_more_money_for_carbon() -> None:
    # prices favour discharging at step 2, carbon at step 4; the weight decides
    prices = [0.10, 0.10, 0.50, 0.30, 0.30, 0.30]
    carbon = [0.05, 0.05, 0.10, 0.30, 0.90, 0.30]
    light, heavy = solve(prices, carbon, weight=0.01), solve(prices, carbon, weight=5.0)
    assert p_batt(light)[2] > p_batt(light)[4]
    assert p_batt(heavy)[4] > p_batt(heavy)[2]
    assert heavy.carbon_kg < light.carbon_kg
    assert heavy.expected_cost >= light.expected_cost


def test_the_dispatch_plan_says_which_sources_it_used() -> None:
    s: StorageSettings = settings(GRIDWATCH_ANALYTICS_CARBON_WEIGHT_PER_KG="1")
    store = store_of(*(signal(GridMetric.CARBON_INTENSITY, T0 + i * HOUR, 100.0 * (i + 1), T0) for i in range(6)))
    grid = plan_signals(store, starts(6), HOUR, T0, [0.25] * 6, "EUR", 7200)
    res = solve(grid.import_price_per_kwh, grid.carbon_kg_per_kwh, weight=1.0)
    msg = to_message(s, res, "persistence", T0, grid)
    assert msg.price_source == "tariff: no day-ahead prices on the grid topic"
    assert msg.carbon_source == "grid gb"
    assert msg.carbon_kg_per_kwh == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert msg.carbon_weight_per_kg == 1.0 and msg.carbon_kg < msg.carbon_kg_without_battery
    back = decode(encode(msg))
    assert isinstance(back, DispatchPlan) and back == msg
