"""The dispatch MILP on cases small enough to check by hand, its fallbacks, and the safety of every plan."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from gridwatch.storage.planner import plan
from gridwatch.storage.problem import Battery, PlanRequest, PlanResult, PlanStatus
from gridwatch.storage.safety import violations

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, on a quarter hour


def ideal(name: str = "b", capacity: float = 10.0, power: float = 1.0, eff: float = 1.0, **kw: float) -> Battery:
    fields: dict[str, float] = {"soc_min_frac": 0.0, "soc_max_frac": 1.0, "soc_target_frac": 0.5, **kw}
    return Battery(
        name=name,
        capacity_kwh=capacity,
        charge_max_kw=power,
        discharge_max_kw=power,
        charge_efficiency=eff,
        discharge_efficiency=eff,
        **fields,
    )


def request(
    load: list[float], price: list[float], batteries: list[Battery], soc: list[float], **kw: object
) -> PlanRequest:
    fields: dict[str, object] = {
        "start_ts": T0,
        "step_s": 3600.0,
        "load_kw": load,
        "import_price_per_kwh": price,
        "export_price_per_kwh": [0.0] * len(load),
        "batteries": batteries,
        "soc_initial_frac": soc,
        **kw,
    }
    return PlanRequest(**fields)  # type: ignore[arg-type]


def assert_safe(req: PlanRequest, res: PlanResult) -> None:
    """The invariants every emitted plan keeps, re-derived from the powers rather than trusted."""
    dt = req.step_h
    total = np.zeros(req.steps)
    for b, batt in enumerate(req.batteries):
        s = res.batteries[b]
        pc, pd = np.asarray(s.p_charge_kw), np.asarray(s.p_discharge_kw)
        assert violations(batt, req.soc_initial_frac[b], pc, pd, dt) == []
        soc = req.soc_initial_frac[b] + np.cumsum(
            (pc * batt.charge_efficiency - pd / batt.discharge_efficiency) * dt / batt.capacity_kwh
        )
        assert np.allclose(soc, s.soc_frac[1:], atol=1e-9)
        assert np.allclose(np.asarray(s.p_batt_kw), pd - pc)
        total += pd - pc
    # the grid takes the rest; surplus beyond the export limit is curtailed
    grid = np.asarray(req.load_kw) - total
    assert np.allclose(res.grid_import_kw, np.maximum(grid, 0.0), atol=1e-6)
    assert np.allclose(res.grid_export_kw, np.minimum(np.maximum(-grid, 0.0), req.grid_export_max_kw), atol=1e-6)


def test_arbitrage_charges_cheap_and_discharges_dear() -> None:
    req = request([1.0, 1.0], [0.1, 0.5], [ideal()], [0.5])
    res = plan(req)
    assert res.status is PlanStatus.OPTIMAL
    assert res.batteries[0].p_charge_kw == pytest.approx([1.0, 0.0], abs=1e-6)
    assert res.batteries[0].p_discharge_kw == pytest.approx([0.0, 1.0], abs=1e-6)
    # 2 kWh at 0.1 instead of 1 kWh at 0.1 + 1 kWh at 0.5
    assert res.expected_cost == pytest.approx(0.2, abs=1e-6)
    assert res.cost_without_battery == pytest.approx(0.6)
    assert res.savings == pytest.approx(0.4, abs=1e-6)
    assert_safe(req, res)


def test_efficiency_limits_what_comes_back() -> None:
    # 1 kWh charged stores 0.9; the final SOC must return to 0.5, so only 0.9 * 0.9 = 0.81 kWh comes back
    req = request([1.0, 1.0], [0.1, 0.5], [ideal(eff=0.9)], [0.5])
    res = plan(req)
    assert res.batteries[0].p_discharge_kw[1] == pytest.approx(0.81, abs=1e-6)
    assert res.expected_cost == pytest.approx(2 * 0.1 + 0.19 * 0.5, abs=1e-6)
    assert res.batteries[0].soc_frac[-1] == pytest.approx(0.5, abs=1e-9)
    assert_safe(req, res)


def test_soc_band_is_never_left() -> None:
    batt = ideal(soc_min_frac=0.2, soc_max_frac=0.8, soc_target_frac=0.5)
    req = request([1.0] * 4, [0.1, 0.1, 0.5, 0.5], [batt], [0.75], step_s=3600.0)
    res = plan(req)
    soc = res.batteries[0].soc_frac
    assert min(soc) >= 0.2 - 1e-9 and max(soc) <= 0.8 + 1e-9
    # it tops up to 0.8 while cheap (0.5 kWh) and then sells down to the 0.5 target: 0.25 + 0.05 = 3 kWh less
    assert sum(res.batteries[0].p_discharge_kw) == pytest.approx(2.5, abs=1e-6)
    assert_safe(req, res)


def test_final_soc_is_soft_with_its_penalty() -> None:
    # one dear hour: discharging 1 kWh saves 0.5, falling 1 kWh short of the target costs the penalty
    cheap_penalty = request([1.0], [0.5], [ideal()], [0.5], soc_target_penalty_per_kwh=0.1)
    res = plan(cheap_penalty)
    assert res.status is PlanStatus.OPTIMAL
    assert res.batteries[0].p_discharge_kw == pytest.approx([1.0], abs=1e-6)
    dear_penalty = request([1.0], [0.5], [ideal()], [0.5], soc_target_penalty_per_kwh=1.0)
    assert plan(dear_penalty).batteries[0].p_discharge_kw == pytest.approx([0.0], abs=1e-6)


def test_no_simultaneous_charge_and_discharge_even_when_burning_energy_pays() -> None:
    # a negative price pays for every kWh imported; without the binary the battery would charge and discharge at
    # once to burn energy through its losses while full
    batt = ideal(eff=0.9, soc_target_frac=1.0)
    req = request([0.0], [-1.0], [batt], [1.0])
    res = plan(req)
    assert res.status is PlanStatus.OPTIMAL
    s = res.batteries[0]
    assert all(min(c, d) <= 1e-9 for c, d in zip(s.p_charge_kw, s.p_discharge_kw, strict=True))
    assert res.grid_import_kw == pytest.approx([0.0], abs=1e-6)
    assert_safe(req, res)


def test_no_simultaneous_import_export_when_export_pays_more() -> None:
    req = request([1.0, 1.0], [0.1, 0.1], [ideal()], [0.5], export_price_per_kwh=[0.3, 0.3])
    res = plan(req)
    assert res.status is PlanStatus.OPTIMAL
    for imp, exp in zip(res.grid_import_kw, res.grid_export_kw, strict=True):
        assert min(imp, exp) <= 1e-9
    assert_safe(req, res)


def test_demand_charge_shaves_the_quarter_hour_peak() -> None:
    # flat price, lossless battery: only the demand charge can make it move; 2 kW for one quarter hour is shaved
    # to 1 kW by discharging, and recharging later at 1 kW keeps the peak at 1 kW
    load = [2.0, 0.0, 0.0, 0.0]
    batt = ideal(capacity=2.0, soc_target_frac=0.5)
    base = request(load, [0.1] * 4, [batt], [0.5], step_s=900.0)
    assert plan(base).peak_import_kw == pytest.approx(2.0, abs=1e-6)
    req = request(load, [0.1] * 4, [batt], [0.5], step_s=900.0, demand_charge_per_kw=10.0)
    res = plan(req)
    assert res.peak_import_kw == pytest.approx(1.0, abs=1e-6)
    assert res.demand_cost == pytest.approx(10.0, abs=1e-5)
    assert res.demand_cost_without_battery == pytest.approx(20.0)
    assert_safe(req, res)


def test_demand_charge_averages_short_steps_over_the_quarter_hour() -> None:
    # 5-minute steps: 3 kW for 5 minutes then nothing averages to 1 kW over the quarter hour; no battery power
    load = [3.0, 0.0, 0.0, 0.5, 0.5, 0.5]
    batt = ideal(capacity=1.0, power=0.0)
    req = request(load, [0.1] * 6, [batt], [0.5], step_s=300.0, demand_charge_per_kw=1.0)
    res = plan(req)
    assert res.peak_import_kw == pytest.approx(1.0)
    assert res.demand_cost == pytest.approx(1.0)


def test_peak_so_far_is_billed_and_not_chased() -> None:
    # the window already billed 3 kW: shaving a 2 kW step below that gains nothing, so the battery stays idle
    req = request([2.0, 0.0], [0.1, 0.1], [ideal()], [0.5], demand_charge_per_kw=10.0, peak_so_far_kw=3.0)
    res = plan(req)
    assert res.demand_cost == pytest.approx(30.0)
    assert sum(res.batteries[0].p_discharge_kw) == pytest.approx(0.0, abs=1e-6)


def test_billing_windows_are_billed_separately() -> None:
    req = request([2.0, 1.0], [0.1, 0.1], [ideal(power=0.0)], [0.5], demand_charge_per_kw=1.0, billing_window=[7, 8])
    assert plan(req).demand_cost == pytest.approx(3.0)


def test_several_batteries_share_the_work() -> None:
    req = request([2.0, 2.0], [0.1, 0.5], [ideal("a"), ideal("b")], [0.5, 0.5])
    res = plan(req)
    assert [b.name for b in res.batteries] == ["a", "b"]
    assert res.expected_cost == pytest.approx(0.4, abs=1e-6)
    assert res.cost_without_battery == pytest.approx(1.2)
    assert_safe(req, res)


def test_carbon_weight_is_a_second_objective() -> None:
    carbon = [0.1, 0.9]
    flat = request([1.0, 1.0], [0.2, 0.2], [ideal()], [0.5], carbon_kg_per_kwh=carbon)
    assert sum(plan(flat).batteries[0].p_discharge_kw) == pytest.approx(0.0, abs=1e-6)
    weighted = request([1.0, 1.0], [0.2, 0.2], [ideal()], [0.5], carbon_kg_per_kwh=carbon, carbon_weight_per_kg=1.0)
    res = plan(weighted)
    assert res.batteries[0].p_discharge_kw[1] == pytest.approx(1.0, abs=1e-6)
    assert res.carbon_kg == pytest.approx(2 * 0.1)
    assert res.carbon_kg_without_battery == pytest.approx(0.1 + 0.9)


def test_grid_import_limit_is_met_by_the_battery() -> None:
    req = request([3.0, 1.0], [0.2, 0.2], [ideal()], [0.5], grid_import_max_kw=2.0)
    res = plan(req)
    assert res.status is PlanStatus.OPTIMAL
    assert max(res.grid_import_kw) <= 2.0 + 1e-6
    assert_safe(req, res)


def test_impossible_grid_limit_is_relaxed_not_crashed() -> None:
    # the battery is at its floor, so a 3 kW load cannot keep under a 2 kW import limit: relaxed, still safe
    batt = ideal(soc_min_frac=0.5)
    req = request([3.0, 1.0], [0.2, 0.2], [batt], [0.5], grid_import_max_kw=2.0)
    res = plan(req)
    assert res.status is PlanStatus.RELAXED
    assert "grid_limits" in res.relaxed
    assert min(res.batteries[0].soc_frac) >= 0.5 - 1e-9
    assert_safe(req, res)


def test_soc_below_the_band_is_recovered_by_charging_first() -> None:
    # 20 kWh at 1 kW: 0.05 of SOC per hour, so the floor of 0.3 cannot be reached in the first hour
    batt = ideal(capacity=20.0, soc_min_frac=0.3, soc_max_frac=0.9, soc_target_frac=0.6)
    req = request([1.0] * 4, [0.5] * 4, [batt], [0.2])
    res = plan(req)
    assert res.status is PlanStatus.RELAXED
    soc = res.batteries[0].soc_frac
    assert soc[1] > soc[0]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(soc) if a < 0.3)
    assert soc[-1] == pytest.approx(0.4, abs=1e-6)  # charging flat out, still short of the 0.6 target
    assert_safe(req, res)


def test_invalid_input_falls_back_to_idle_with_the_reason() -> None:
    req = request([1.0, math.nan], [0.1, 0.5], [ideal()], [0.5])
    res = plan(req)
    assert res.status is PlanStatus.FALLBACK_IDLE
    assert "load_kw must be finite" in res.message
    assert all(p == 0.0 for p in res.batteries[0].p_batt_kw)


def test_contradictory_battery_falls_back_to_idle() -> None:
    bad = ideal(soc_min_frac=0.7, soc_max_frac=0.9, soc_target_frac=0.5)
    res = plan(request([1.0, 1.0], [0.1, 0.5], [bad], [0.8]))
    assert res.status is PlanStatus.FALLBACK_IDLE
    assert "soc_min_frac <= soc_target_frac" in res.message


def test_failed_solve_reuses_the_last_good_plan_from_the_current_state() -> None:
    price = [0.1, 0.1, 0.5, 0.5]
    good = plan(request([1.0] * 4, price, [ideal()], [0.5]))
    assert good.status is PlanStatus.OPTIMAL
    # one step later the forecast is broken: the rest of the last plan is reused and padded with idle steps
    later = request([1.0, math.nan, 1.0, 1.0], [*price[1:], 0.1], [ideal()], [0.6], start_ts=T0 + 3600.0)
    res = plan(later, last=good)
    assert res.status is PlanStatus.FALLBACK_LAST
    assert res.batteries[0].p_batt_kw[:3] == pytest.approx(good.batteries[0].p_batt_kw[1:], abs=1e-9)
    assert res.batteries[0].p_batt_kw[3] == 0.0


def test_last_plan_is_reclamped_to_the_current_soc() -> None:
    good = plan(request([1.0] * 4, [0.1, 0.1, 0.5, 0.5], [ideal()], [0.5]))
    # the battery is now nearly empty: the reused discharges are cut where the SOC floor would be crossed
    later = request([math.nan, 1.0, 1.0], [0.1, 0.5, 0.5], [ideal()], [0.05], start_ts=T0 + 3600.0)
    res = plan(later, last=good)
    assert res.status is PlanStatus.FALLBACK_LAST
    assert min(res.batteries[0].soc_frac) >= -1e-12
    assert sum(res.batteries[0].p_discharge_kw) < sum(good.batteries[0].p_discharge_kw)


def test_time_limit_never_yields_an_unsafe_plan() -> None:
    rng = np.random.default_rng(3)
    n = 96
    req = request(
        list(rng.uniform(0, 3, n)),
        list(rng.uniform(-0.1, 0.5, n)),
        [ideal("a", eff=0.9), ideal("b", eff=0.85)],
        [0.5, 0.5],
        step_s=900.0,
        export_price_per_kwh=list(rng.uniform(0, 0.4, n)),
        demand_charge_per_kw=5.0,
        time_limit_s=1e-6,
    )
    res = plan(req)
    assert res.status in (PlanStatus.TIME_LIMIT, PlanStatus.FALLBACK_IDLE)
    assert_safe(req, res)


@pytest.mark.parametrize("seed", range(12))
def test_random_requests_always_give_safe_plans(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 60))
    batteries = [
        Battery(
            name=f"b{i}",
            capacity_kwh=float(rng.uniform(1, 20)),
            charge_max_kw=float(rng.uniform(0.1, 5)),
            discharge_max_kw=float(rng.uniform(0.1, 5)),
            charge_efficiency=float(rng.uniform(0.8, 1)),
            discharge_efficiency=float(rng.uniform(0.8, 1)),
            soc_min_frac=0.2,
            soc_max_frac=0.9,
            soc_target_frac=float(rng.uniform(0.2, 0.9)),
        )
        for i in range(int(rng.integers(1, 4)))
    ]
    req = request(
        list(rng.uniform(-2, 6, n)),
        list(rng.uniform(-0.05, 0.6, n)),
        batteries,
        [float(rng.uniform(0, 1)) for _ in batteries],
        step_s=float(rng.choice([300.0, 900.0, 1800.0])),
        export_price_per_kwh=list(rng.uniform(0, 0.3, n)),
        grid_import_max_kw=float(rng.uniform(1, 8)),
        grid_export_max_kw=float(rng.uniform(0.5, 5)),
        demand_charge_per_kw=float(rng.choice([0.0, 8.0])),
    )
    res = plan(req)
    assert res.status in (PlanStatus.OPTIMAL, PlanStatus.RELAXED)
    assert_safe(req, res)
    # where idling is allowed and the plan ends no fuller than it started, it costs no more than idling
    idle_allowed = max(req.load_kw) <= req.grid_import_max_kw and -min(req.load_kw) <= req.grid_export_max_kw
    idle_allowed &= all(0.2 <= s <= 0.9 for s in req.soc_initial_frac)
    ends_lower = all(b.soc_frac[-1] <= b.soc_frac[0] + 1e-9 for b in res.batteries)
    if idle_allowed and ends_lower:
        assert res.status is PlanStatus.OPTIMAL
        assert res.expected_cost <= res.cost_without_battery + 1e-4
