"""The rebalancer's policy: plan following, live peak tracking, the hard safety limits and flexible loads; and the
simulated assets that obey its commands."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pytest
from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.schema import SCHEMA_VERSION, BatteryDispatch, Command, CommandKind, DispatchPlan
from gridwatch.rebalancer.policy import CLAMP_LIMITS, BatteryLive, Limits, LoadLive, clamp_battery, decide, stoppable_kw
from gridwatch.simulator.assets import BatteryModel, FlexibleLoadModel

B = BatteryConfig(name="b", capacity_kwh=100, power_kw=50, efficiency=0.81, soc_min=0.1, soc_max=0.9)
LIM = Limits(ramp_kw_per_s=0.1, soc_guard_frac=0.02, interval_s=60.0)  # 6 kW per decision
FREE = Limits(ramp_kw_per_s=1e6, soc_guard_frac=0.02, interval_s=60.0)
T0 = 1_767_225_600.0


def plan(p_batt: list[float], peak: float = 100.0, grid: list[float] | None = None) -> DispatchPlan:
    n = len(p_batt)
    return DispatchPlan(
        schema_version=SCHEMA_VERSION,
        site="s",
        plan_id="p" * 16,
        created_ts=T0,
        start_ts=T0,
        step_s=900.0,
        status="optimal",
        message="",
        solve_time_s=0.01,
        forecast="seasonal_naive",
        currency="EUR",
        load_kw=[100.0] * n,
        import_price_per_kwh=[0.2] * n,
        export_price_per_kwh=[0.0] * n,
        grid_import_kw=grid or [100.0 - p for p in p_batt],
        batteries=[BatteryDispatch("b", p_batt, [0.5] * (n + 1), 100.0)],
        expected_cost=1.0,
        cost_without_battery=1.0,
        savings=0.0,
        peak_import_kw=peak,
        peak_import_without_battery_kw=peak,
    )


def test_follows_the_plan_step_covering_now() -> None:
    (d,) = decide(plan([10.0, -20.0]), T0 + 1000, None, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [], {}, FREE)
    assert d.kind is CommandKind.BATTERY_SETPOINT and d.setpoint_kw == -20.0 and "step 1" in d.reason


def test_no_current_plan_means_idle() -> None:
    stale = plan([10.0])
    (d,) = decide(stale, T0 + 5000, None, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [], {}, FREE)
    assert d.setpoint_kw == 0.0 and "no current plan" in d.reason
    (d,) = decide(None, T0, None, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [], {}, FREE)
    assert d.setpoint_kw == 0.0


def test_unknown_battery_state_means_idle() -> None:
    (d,) = decide(plan([10.0]), T0, None, [B], {}, {}, [], {}, FREE)
    assert d.setpoint_kw == 0.0 and "no reported state" in d.reason


def test_live_load_above_the_planned_peak_discharges_more() -> None:
    # the plan expected 100 kW and a 90 kW peak; the site draws 120 kW: 30 kW over, the battery covers it
    (d,) = decide(plan([10.0], peak=90.0), T0, 120.0, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [], {}, FREE)
    assert d.requested_kw == pytest.approx(30.0) and d.setpoint_kw == pytest.approx(30.0)


def test_max_power_and_ramp_rate() -> None:
    sp, clamps = clamp_battery(B, BatteryLive(0.5, 0.0), 0.0, 80.0, FREE)
    assert sp == 50.0 and clamps == ["max power"]
    sp, clamps = clamp_battery(B, BatteryLive(0.5, 0.0), 10.0, 40.0, LIM)
    assert sp == pytest.approx(16.0) and clamps == ["ramp rate"]


def test_guard_bands_block_discharge_low_and_charge_high() -> None:
    assert clamp_battery(B, BatteryLive(0.115, 0.0), 0.0, 20.0, FREE)[0] == 0.0
    assert clamp_battery(B, BatteryLive(0.885, 0.0), 0.0, -20.0, FREE)[0] == 0.0
    # the other direction stays allowed
    assert clamp_battery(B, BatteryLive(0.115, 0.0), 0.0, -20.0, FREE)[0] == -20.0


def test_guard_band_is_approached_within_the_ramp() -> None:
    """Discharging toward the floor, each decision respects the ramp and the SOC never enters the guard band."""
    soc, previous, h = 0.3, 0.0, LIM.interval_s / 3600
    eff = B.one_way_efficiency
    for _ in range(400):
        sp, _ = clamp_battery(B, BatteryLive(soc, previous), previous, 50.0, LIM)
        assert abs(sp - previous) <= 6.0 + 1e-9
        soc -= sp * h / eff / B.capacity_kwh
        assert soc >= B.soc_min + LIM.soc_guard_frac - 1e-9
        previous = sp
    assert previous == pytest.approx(0.0, abs=1e-6)


def test_stoppable_power_leaves_room_to_ramp_down() -> None:
    assert stoppable_kw(0.0, 1.0, 5.0, 50.0) == 0.0
    assert stoppable_kw(1e9, 1.0, 5.0, 50.0) == 50.0
    # from 10 kW: 10 (reserve) + 10 + 5 = 25 units of energy
    assert stoppable_kw(25.0, 1.0, 5.0, 50.0) == pytest.approx(10.0, abs=1e-6)


KILN = FlexibleLoadConfig(name="kiln", power_kw=40, priority=5, min_run_minutes=30, run_hours=2)
PUMP = FlexibleLoadConfig(name="pump", power_kw=20, priority=50, min_run_minutes=0, run_hours=2)
FRIDGE = FlexibleLoadConfig(name="fridge", power_kw=30, priority=0, protected=True, run_hours=2)


def test_flexible_loads_are_limited_by_priority_never_protected_never_young() -> None:
    live = {
        "kiln": LoadLive(40.0, True, 3600.0, None),
        "pump": LoadLive(20.0, True, 3600.0, None),
        "fridge": LoadLive(30.0, True, 3600.0, None),
    }
    # 150 kW against a 120 kW target with the battery flat out at the ramp: shed the kiln (priority 5) only
    out = decide(plan([0.0], peak=120.0), T0, 150.0, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [KILN, PUMP, FRIDGE],
                 live, Limits(1e-9, 0.02, 60.0))  # fmt: skip
    limits = [d.target for d in out if d.kind is CommandKind.LOAD_LIMIT]
    assert limits == ["kiln"]
    # a young run is left alone, so the next priority goes
    live["kiln"] = LoadLive(40.0, True, 600.0, None)
    out = decide(plan([0.0], peak=120.0), T0, 150.0, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [KILN, PUMP, FRIDGE],
                 live, Limits(1e-9, 0.02, 60.0))  # fmt: skip
    assert [d.target for d in out if d.kind is CommandKind.LOAD_LIMIT] == ["pump"]


def test_limited_load_is_released_when_there_is_room() -> None:
    live = {"kiln": LoadLive(0.0, False, 0.0, 0.0)}
    out = decide(plan([0.0], peak=120.0), T0, 60.0, [B], {"b": BatteryLive(0.5, 0.0)}, {}, [KILN], live, FREE)
    assert [(d.target, d.kind) for d in out if d.target == "kiln"] == [("kiln", CommandKind.LOAD_RELEASE)]


def cmd(kind: CommandKind, kw: float, until: float) -> Command:
    return Command(SCHEMA_VERSION, "s", "c", T0, "x", kind, kw, until, "p", "test")


def test_battery_model_follows_with_delay_and_its_bms_holds_the_band() -> None:
    m = BatteryModel(B, soc_frac=0.5, response_s=30.0)
    m.command(cmd(CommandKind.BATTERY_SETPOINT, 40.0, T0 + 10_000))
    first = m.step(T0, 10.0)
    assert 0 < first < 40.0  # response delay
    for i in range(1, 400):
        m.step(T0 + 10 * i, 10.0)
    assert m.soc_frac >= B.soc_min - 1e-12 and m.bms_cutoffs > 0 and m.violations == 0
    # an expired command lapses to idle
    m.command(cmd(CommandKind.BATTERY_SETPOINT, -40.0, T0))
    for i in range(20):
        m.step(T0 + 10_000 + 10 * i, 10.0)
    assert abs(m.p_kw) < 1.0


def test_battery_model_charges_with_efficiency() -> None:
    m = BatteryModel(B, soc_frac=0.5, response_s=0.0)
    m.command(cmd(CommandKind.BATTERY_SETPOINT, -10.0, T0 + 10_000))
    m.step(T0, 3600.0)
    assert m.soc_frac == pytest.approx(0.5 + 10 * 0.9 / 100)


def test_flexible_load_defers_under_a_limit_and_still_finishes_its_day() -> None:
    cfg = FlexibleLoadConfig(name="kiln", power_kw=40, min_run_minutes=30, run_hours=2, window_start_hour=16,
                             window_end_hour=22)  # fmt: skip
    m = FlexibleLoadModel(cfg, ZoneInfo("UTC"))
    m.command(cmd(CommandKind.LOAD_LIMIT, 0.0, T0 + 86400))
    power = np.asarray([m.step(T0 + 60 * i, 60.0) for i in range(1440)])
    on = np.flatnonzero(power > 0)
    assert power.sum() / 60 == pytest.approx(80.0)  # 2 h at 40 kW
    assert on[0] == 20 * 60 and on[-1] == 22 * 60 - 1  # deferred to the last two hours it could still finish in
    protected = FlexibleLoadModel(FRIDGE, ZoneInfo("UTC"))
    protected.command(cmd(CommandKind.LOAD_LIMIT, 0.0, T0 + 86400))
    assert protected.step(T0, 60.0) == 30.0


def test_every_clamp_name_is_a_declared_metric_label() -> None:
    """gridwatch_rebalancer_clamped_total starts every CLAMP_LIMITS series at 0 (the dashboard and the
    RebalancerSafetyClampsHigh alert read them): a clamp must not name a limit outside that list."""
    rng = np.random.default_rng(7)
    seen: set[str] = set()
    for _ in range(2000):
        live = BatteryLive(float(rng.uniform(0.0, 1.0)), float(rng.uniform(-60, 60)))
        _, clamps = clamp_battery(B, live, float(rng.uniform(-60, 60)), float(rng.uniform(-120, 120)), LIM)
        seen.update(clamps)
    assert seen <= set(CLAMP_LIMITS)
    assert seen == set(CLAMP_LIMITS), f"never produced: {set(CLAMP_LIMITS) - seen}"
