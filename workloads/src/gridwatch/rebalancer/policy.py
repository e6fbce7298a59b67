"""From the dispatch plan and the live state to setpoints, each clamped by the hard safety limits, with reasons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.schema import CommandKind, DispatchPlan

TOL_KW = 1e-6


@dataclass(frozen=True)
class Limits:
    """Hard limits no command may break, whatever the plan says."""

    ramp_kw_per_s: float  # largest change of a battery setpoint per second
    soc_guard_frac: float  # no discharge within this of soc_min, no charge within this of soc_max
    interval_s: float  # time between decisions (the ramp applies over it)


@dataclass(frozen=True)
class BatteryLive:
    """A battery's reported state."""

    soc_frac: float
    p_kw: float


@dataclass(frozen=True)
class LoadLive:
    """A flexible load's reported state."""

    p_kw: float
    running: bool
    run_s: float  # how long its current run has lasted
    limit_kw: float | None  # the limit it is under, None when free


@dataclass(frozen=True)
class Decision:
    """One setpoint to send and why; `requested_kw` is what the plan or the peak rule asked before the clamps."""

    target: str
    kind: CommandKind
    setpoint_kw: float
    requested_kw: float
    reason: str
    clamps: list[str] = field(default_factory=list)


def plan_step(plan: DispatchPlan | None, now: float) -> int | None:
    """Index of the plan's step covering `now`, None when there is no current plan."""
    if plan is None:
        return None
    i = math.floor((now - plan.start_ts) / plan.step_s)
    return i if 0 <= i < len(plan.load_kw) else None


def stoppable_kw(room_kwh: float, kwh_per_kw: float, ramp_kw: float, limit_kw: float) -> float:
    """The largest power p from which ramping down by `ramp_kw` per interval to zero uses at most `room_kwh`, with
    one more interval at p in reserve (each interval at power p moves p * kwh_per_kw of stored energy).

    The reserve keeps the bound reachable from one decision to the next even when the device lags its setpoint
    by up to an interval: if p met the bound, p - ramp_kw meets it at the next decision."""

    def used(p: float) -> float:
        n = math.floor(p / ramp_kw)
        return kwh_per_kw * (p + (n + 1) * p - ramp_kw * n * (n + 1) / 2)

    if room_kwh <= 0:
        return 0.0
    if used(limit_kw) <= room_kwh:
        return limit_kw
    lo, hi = 0.0, limit_kw
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if used(mid) <= room_kwh else (lo, mid)
    return lo


def clamp_battery(
    cfg: BatteryConfig, live: BatteryLive, previous_kw: float, wanted_kw: float, lim: Limits
) -> tuple[float, list[str]]:
    """The setpoint nearest `wanted_kw` (> 0 discharges) within max power, the SOC guard bands and the ramp rate.

    The guard bands look ahead: power is limited to what can still be ramped down to zero, within the ramp rate,
    before the SOC reaches [soc_min + guard, soc_max - guard], so the battery slows down as it nears a band instead
    of being stopped at it (which would break the ramp). Only if a band is reached anyway (the device did more than
    asked) does the band override the ramp: battery safety first.
    """
    clamps: list[str] = []
    eff = cfg.one_way_efficiency
    h = lim.interval_s / 3600.0
    lo_kwh = max(live.soc_frac - (cfg.soc_min + lim.soc_guard_frac), 0.0) * cfg.capacity_kwh
    hi_kwh = max((cfg.soc_max - lim.soc_guard_frac) - live.soc_frac, 0.0) * cfg.capacity_kwh
    step = lim.ramp_kw_per_s * lim.interval_s
    max_discharge = stoppable_kw(lo_kwh, h / eff, step, cfg.discharge_kw)
    max_charge = stoppable_kw(hi_kwh, h * eff, step, cfg.charge_kw)
    sp = wanted_kw
    for name, lo, hi in (
        ("max power", -cfg.charge_kw, cfg.discharge_kw),
        ("SOC guard band", -max_charge, max_discharge),
        ("ramp rate", previous_kw - step, previous_kw + step),
    ):
        clamped = min(max(sp, lo), hi)
        if abs(clamped - sp) > TOL_KW:
            clamps.append(name)
        sp = clamped
    # the ramp must not carry a setpoint across a guard band or a power limit: those win
    safe = min(max(sp, -max_charge), max_discharge)
    if abs(safe - sp) > TOL_KW:
        clamps.append("SOC guard band over ramp rate")
    return safe, clamps


# every limit clamp_battery names (the label values of gridwatch_rebalancer_clamped_total)
CLAMP_LIMITS = ("max power", "SOC guard band", "ramp rate", "SOC guard band over ramp rate")


def decide(
    plan: DispatchPlan | None,
    now: float,
    site_load_kw: float | None,
    batteries: list[BatteryConfig],
    battery_live: dict[str, BatteryLive],
    previous_kw: dict[str, float],
    loads: list[FlexibleLoadConfig],
    load_live: dict[str, LoadLive],
    lim: Limits,
) -> list[Decision]:
    """Every battery's setpoint and every flexible load's limit for now."""
    i = plan_step(plan, now)
    out: list[Decision] = []
    wanted: dict[str, float] = {}
    reasons: dict[str, str] = {}
    target_import = math.inf
    for b in batteries:
        if plan is None or i is None:
            wanted[b.name], reasons[b.name] = 0.0, "no current plan: idle"
            continue
        sched = next((x for x in plan.batteries if x.name == b.name), None)
        wanted[b.name] = sched.p_batt_kw[i] if sched is not None else 0.0
        reasons[b.name] = f"plan {plan.plan_id[:8]} step {i}" if sched is not None else "not in the plan: idle"
    if plan is not None and i is not None:
        target_import = max(plan.peak_import_kw, plan.grid_import_kw[i])
    # live peak tracking: the forecast can be wrong; discharge more when the site would import above the planned peak
    if site_load_kw is not None and math.isfinite(target_import):
        excess = site_load_kw - sum(wanted.values()) - target_import
        if excess > TOL_KW:
            room = {b.name: max(b.discharge_kw - wanted[b.name], 0.0) for b in batteries if b.name in battery_live}
            total = sum(room.values())
            for name, r in room.items():
                if total > 0:
                    wanted[name] += excess * r / total
                    reasons[name] += f"; +{excess * r / total:.2f} kW to hold import at the planned peak"
    setpoints: dict[str, float] = {}
    for b in batteries:
        live = battery_live.get(b.name)
        if live is None:
            out.append(Decision(b.name, CommandKind.BATTERY_SETPOINT, 0.0, wanted[b.name], "no reported state: idle"))
            setpoints[b.name] = 0.0
            continue
        sp, clamps = clamp_battery(b, live, previous_kw.get(b.name, live.p_kw), wanted[b.name], lim)
        setpoints[b.name] = sp
        out.append(Decision(b.name, CommandKind.BATTERY_SETPOINT, sp, wanted[b.name], reasons[b.name], clamps))
    out.extend(_loads(site_load_kw, sum(setpoints.values()), target_import, loads, load_live))
    return out


def _loads(
    site_load_kw: float | None,
    battery_kw: float,
    target_import: float,
    loads: list[FlexibleLoadConfig],
    live: dict[str, LoadLive],
) -> list[Decision]:
    """Limit flexible loads, lowest priority first, while the import would exceed the target; release them when
    there is room. Protected loads and runs younger than their minimum run time are never limited."""
    if site_load_kw is None or not math.isfinite(target_import):
        return [
            Decision(f.name, CommandKind.LOAD_RELEASE, f.power_kw, f.power_kw, "no current plan: release")
            for f in loads
            if live.get(f.name) is not None and live[f.name].limit_kw is not None
        ]
    out: list[Decision] = []
    expected = site_load_kw - battery_kw
    # release first (highest priority first) where it keeps the import under the target
    for f in sorted(loads, key=lambda x: -x.priority):
        state = live.get(f.name)
        if state is None or state.limit_kw is None:
            continue
        if f.protected or expected + f.power_kw <= target_import + TOL_KW:
            expected += f.power_kw
            why = "protected load" if f.protected else f"import {expected:.1f} kW stays within {target_import:.1f} kW"
            out.append(Decision(f.name, CommandKind.LOAD_RELEASE, f.power_kw, f.power_kw, why))
    for f in sorted(loads, key=lambda x: x.priority):
        state = live.get(f.name)
        if expected <= target_import + TOL_KW:
            break
        if f.protected or state is None or not state.running or state.limit_kw is not None:
            continue
        if state.run_s < f.min_run_minutes * 60.0:
            continue
        expected -= state.p_kw
        out.append(
            Decision(
                f.name,
                CommandKind.LOAD_LIMIT,
                0.0,
                0.0,
                f"shift: import would exceed the planned peak {target_import:.1f} kW (priority {f.priority})",
            )
        )
    return out
