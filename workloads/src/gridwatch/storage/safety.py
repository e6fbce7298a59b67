"""Plan safety and costing: clamp any battery schedule to its limits and SOC band, and price a schedule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridwatch.storage.milp import QUARTER_HOUR_S, windows_of
from gridwatch.storage.problem import Battery, PlanRequest

Vec = npt.NDArray[np.float64]
TOL_KWH = 1e-6


@dataclass(frozen=True)
class SafeSchedule:
    """One battery's schedule after the safety pass: powers within limits, SOC inside the band (or moving into it)."""

    p_charge_kw: Vec
    p_discharge_kw: Vec
    soc_kwh: Vec  # steps + 1 entries, from the initial state


def make_safe(batt: Battery, soc_initial_frac: float, net_discharge_kw: Vec, step_h: float) -> SafeSchedule:
    """Clamp a net power schedule (> 0 discharges) step by step so that power limits hold and SOC never leaves
    [soc_min, soc_max]; from outside the band only moves toward it are kept."""
    n = net_discharge_kw.size
    cap = batt.capacity_kwh
    lo, hi = batt.soc_min_frac * cap, batt.soc_max_frac * cap
    soc = np.empty(n + 1)
    soc[0] = soc_initial_frac * cap
    p_c = np.zeros(n)
    p_d = np.zeros(n)
    for t in range(n):
        s = soc[t]
        p = float(net_discharge_kw[t])
        if cap <= 0 or not np.isfinite(p):
            p = 0.0
        if p > 0:
            room = max(s - lo, 0.0)  # energy the band lets us draw
            p = min(p, batt.discharge_max_kw, room * batt.discharge_efficiency / step_h)
            p_d[t] = max(p, 0.0)
            s -= p_d[t] * step_h / batt.discharge_efficiency
        elif p < 0:
            room = max(hi - s, 0.0)
            q = min(-p, batt.charge_max_kw, room / (batt.charge_efficiency * step_h))
            p_c[t] = max(q, 0.0)
            s += p_c[t] * batt.charge_efficiency * step_h
        soc[t + 1] = s
    return SafeSchedule(p_c, p_d, soc)


def violations(
    batt: Battery, soc_initial_frac: float, p_charge_kw: Vec, p_discharge_kw: Vec, step_h: float
) -> list[str]:
    """Every safety invariant a schedule breaks (empty = safe); the SOC is re-simulated, not trusted."""
    out: list[str] = []
    tol = 1e-6
    if (p_charge_kw < -tol).any() or (p_discharge_kw < -tol).any():
        out.append("negative power")
    if (p_charge_kw > batt.charge_max_kw + tol).any():
        out.append("charge power above limit")
    if (p_discharge_kw > batt.discharge_max_kw + tol).any():
        out.append("discharge power above limit")
    if (np.minimum(p_charge_kw, p_discharge_kw) > tol).any():
        out.append("charges and discharges at once")
    cap = batt.capacity_kwh
    lo, hi = batt.soc_min_frac * cap, batt.soc_max_frac * cap
    soc = soc_initial_frac * cap + np.cumsum(
        (p_charge_kw * batt.charge_efficiency - p_discharge_kw / batt.discharge_efficiency) * step_h
    )
    prev = np.concatenate(([soc_initial_frac * cap], soc[:-1]))
    # a step may end outside the band only when it started outside and moved toward it
    low = (soc < lo - TOL_KWH) & ~((prev < lo) & (soc >= prev - TOL_KWH))
    high = (soc > hi + TOL_KWH) & ~((prev > hi) & (soc <= prev + TOL_KWH))
    if low.any():
        out.append("SOC below soc_min")
    if high.any():
        out.append("SOC above soc_max")
    return out


@dataclass(frozen=True)
class Costing:
    """What a schedule costs on a request's tariff."""

    grid_import_kw: Vec
    grid_export_kw: Vec
    energy_cost: float
    demand_cost: float
    peak_import_kw: float
    carbon_kg: float

    @property
    def total(self) -> float:
        """Energy plus demand charge."""
        return self.energy_cost + self.demand_cost


def quarter_hour_peaks(req: PlanRequest, grid_import_kw: Vec) -> tuple[Vec, npt.NDArray[np.int64]]:
    """Average import of every 15-minute interval, and the billing window index of each."""
    window, _ = windows_of(req)
    if req.step_s >= QUARTER_HOUR_S:
        return grid_import_kw, window
    ts = req.start_ts + req.step_s * np.arange(req.steps)
    _, group = np.unique(np.floor(ts / QUARTER_HOUR_S).astype(np.int64), return_inverse=True)
    means = np.bincount(group, weights=grid_import_kw) / np.bincount(group)
    first = np.flatnonzero(np.diff(np.concatenate(([-1], group))) != 0)
    return means, window[first]


def cost_of(req: PlanRequest, net_battery_kw: Vec) -> Costing:
    """Grid flows and cost when the batteries together deliver `net_battery_kw` (> 0 discharge) every step."""
    dt = req.step_h
    grid = np.nan_to_num(np.asarray(req.load_kw, dtype=np.float64)) - net_battery_kw
    imp = np.maximum(grid, 0.0)
    exp = np.maximum(-grid, 0.0)
    if np.isfinite(req.grid_export_max_kw):
        exp = np.minimum(exp, req.grid_export_max_kw)  # surplus beyond the export limit is curtailed
    energy = float(
        (imp * np.asarray(req.import_price_per_kwh)).sum() * dt
        - (exp * np.asarray(req.export_price_per_kwh)).sum() * dt
    )
    carbon = float((imp * np.asarray(req.carbon_kg_per_kwh)).sum() * dt) if req.carbon_kg_per_kwh else 0.0
    means, window = quarter_hour_peaks(req, imp)
    demand = 0.0
    peak = float(means.max()) if means.size else 0.0
    if req.demand_charge_per_kw > 0:
        for w in np.unique(window):
            billed = float(means[window == w].max())
            if w == 0:
                billed = max(billed, req.peak_so_far_kw)
            demand += req.demand_charge_per_kw * billed
    return Costing(imp, exp, energy, demand, peak, carbon)
