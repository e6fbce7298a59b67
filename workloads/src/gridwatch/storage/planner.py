"""Staged planning that never crashes: solve as asked, relax the hard limits, else the last good plan or idle."""

from __future__ import annotations

import math
import time

import numpy as np

from gridwatch.storage import milp
from gridwatch.storage.milp import Relax, Solution, Vec
from gridwatch.storage.problem import BatterySchedule, PlanRequest, PlanResult, PlanStatus
from gridwatch.storage.safety import cost_of, make_safe, violations


def _result(
    req: PlanRequest,
    status: PlanStatus,
    message: str,
    seconds: float,
    net_kw: list[Vec],
    relaxed: list[str],
) -> PlanResult:
    """Pass every battery's net schedule through the safety clamp, then price it with and without batteries."""
    dt = req.step_h
    schedules: list[BatterySchedule] = []
    total = np.zeros(req.steps)
    for b, batt in enumerate(req.batteries):
        safe = make_safe(batt, req.soc_initial_frac[b], net_kw[b], dt)
        p_batt = safe.p_discharge_kw - safe.p_charge_kw
        total += p_batt
        cap = batt.capacity_kwh
        soc_frac = safe.soc_kwh / cap if cap > 0 else np.full(req.steps + 1, req.soc_initial_frac[b])
        schedules.append(
            BatterySchedule(
                name=batt.name,
                p_charge_kw=safe.p_charge_kw.tolist(),
                p_discharge_kw=safe.p_discharge_kw.tolist(),
                p_batt_kw=p_batt.tolist(),
                soc_frac=soc_frac.tolist(),
            )
        )
    with_batt = cost_of(req, total)
    without = cost_of(req, np.zeros(req.steps))
    return PlanResult(
        status=status,
        message=message,
        solve_time_s=seconds,
        start_ts=req.start_ts,
        step_s=req.step_s,
        load_kw=list(req.load_kw),
        import_price_per_kwh=list(req.import_price_per_kwh),
        export_price_per_kwh=list(req.export_price_per_kwh),
        grid_import_kw=with_batt.grid_import_kw.tolist(),
        grid_export_kw=with_batt.grid_export_kw.tolist(),
        batteries=schedules,
        energy_cost=with_batt.energy_cost,
        demand_cost=with_batt.demand_cost,
        expected_cost=with_batt.total,
        energy_cost_without_battery=without.energy_cost,
        demand_cost_without_battery=without.demand_cost,
        cost_without_battery=without.total,
        savings=without.total - with_batt.total,
        peak_import_kw=with_batt.peak_import_kw,
        peak_import_without_battery_kw=without.peak_import_kw,
        carbon_kg=with_batt.carbon_kg,
        carbon_kg_without_battery=without.carbon_kg,
        relaxed=relaxed,
    )


def _net(sol: Solution, req: PlanRequest) -> list[Vec]:
    return [sol.values[f"p_discharge_kw[{b}]"] - sol.values[f"p_charge_kw[{b}]"] for b in range(len(req.batteries))]


def idle(req: PlanRequest, reason: str, seconds: float = 0.0) -> PlanResult:
    """The safe plan that needs no solver: every battery idle."""
    return _result(req, PlanStatus.FALLBACK_IDLE, reason, seconds, [np.zeros(req.steps)] * len(req.batteries), [])


def from_last(req: PlanRequest, last: PlanResult, reason: str, seconds: float) -> PlanResult | None:
    """The last good plan moved to this request's start and re-clamped from the current SOC; None when unusable."""
    if last.step_s != req.step_s or [b.name for b in last.batteries] != [b.name for b in req.batteries]:
        return None
    offset = round((req.start_ts - last.start_ts) / req.step_s)
    if offset < 0 or offset >= len(last.load_kw):
        return None
    net = []
    for sched in last.batteries:
        rest = np.asarray(sched.p_batt_kw[offset:], dtype=np.float64)
        net.append(np.concatenate((rest, np.zeros(max(req.steps - rest.size, 0))))[: req.steps])
    return _result(req, PlanStatus.FALLBACK_LAST, reason, seconds, net, [])


def _safe(req: PlanRequest, result: PlanResult) -> bool:
    dt = req.step_h
    for b, batt in enumerate(req.batteries):
        s = result.batteries[b]
        if violations(batt, req.soc_initial_frac[b], np.asarray(s.p_charge_kw), np.asarray(s.p_discharge_kw), dt):
            return False
    return True


def plan(req: PlanRequest, last: PlanResult | None = None) -> PlanResult:
    """The best safe plan for a request; the status says how it was obtained. Never raises on bad inputs."""
    started = time.perf_counter()
    try:
        req.check()
    except ValueError as exc:
        if req.steps == 0 or len(req.soc_initial_frac) != len(req.batteries):
            raise  # nothing can be planned at all: a caller's bug, not an input condition
        return _fallback(req, last, f"invalid input: {exc}", started)
    stages: list[tuple[Relax, list[str]]] = [(Relax(), [])]
    if math.isfinite(req.grid_import_max_kw) or math.isfinite(req.grid_export_max_kw):
        stages.append((Relax(grid_limits=True), ["grid_limits"]))
    if any(b.soc_min_frac > 0 or b.soc_max_frac < 1 for b in req.batteries):
        stages.append((Relax(grid_limits=True, soc_band=True), ["grid_limits", "soc_band"]))
    messages = []
    for relax, names in stages:
        left = req.time_limit_s - (time.perf_counter() - started)
        if left <= 0:
            messages.append("time limit reached before solving")
            break
        try:
            sol = milp.solve(milp.build(req, relax), req, left)
        except (ValueError, ArithmeticError) as exc:  # numerical trouble inside the solver interface
            messages.append(f"solver error: {exc}")
            continue
        if not sol.ok:
            messages.append(f"{'relaxed' if names else 'as asked'}: {sol.message}")
            continue
        status = PlanStatus.OPTIMAL if sol.status == 0 and sol.integral else PlanStatus.TIME_LIMIT
        if names:
            status = PlanStatus.RELAXED if status is PlanStatus.OPTIMAL else status
        result = _result(req, status, sol.message, time.perf_counter() - started, _net(sol, req), names)
        if _safe(req, result):
            return result
        messages.append("solver plan failed the safety check")
    return _fallback(req, last, "; ".join(messages) or "no solve", started)


def _fallback(req: PlanRequest, last: PlanResult | None, reason: str, started: float) -> PlanResult:
    seconds = time.perf_counter() - started
    if last is not None:
        try:
            shifted = from_last(req, last, reason, seconds)
        except ValueError:
            shifted = None
        if shifted is not None and _safe(req, shifted):
            return shifted
    return idle(req, reason, seconds)
