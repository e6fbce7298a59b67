"""The storage dispatch MILP: named variables, one function per constraint family, solved by HiGHS (scipy.milp)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]
from scipy.sparse import coo_matrix  # type: ignore[import-untyped]

from gridwatch.storage.problem import PlanRequest

Vec = npt.NDArray[np.float64]
Idx = npt.NDArray[np.int64]

# Penalties of the relaxed stage, per kWh outside a hard limit: far above any tariff, so a relaxed plan only leaves
# a limit when nothing else is possible.
RELAX_PENALTY_PER_KWH = 1000.0
# Leaving the SOC band costs ten times more than exceeding a grid limit: battery safety comes first
SOC_RELAX_PENALTY_PER_KWH = 10 * RELAX_PENALTY_PER_KWH
# Tie-breaker per kWh through a battery, so equal-cost plans prefer fewer cycles (does not change costs visibly)
TIE_BREAK_PER_KWH = 1e-6
QUARTER_HOUR_S = 900.0
FEAS_TOL = 1e-6


@dataclass
class Model:
    """A MILP under construction: named variable blocks and named row blocks, in HiGHS's row form."""

    cost: list[Vec] = field(default_factory=list)
    lower: list[Vec] = field(default_factory=list)
    upper: list[Vec] = field(default_factory=list)
    integer: list[Vec] = field(default_factory=list)
    names: dict[str, Idx] = field(default_factory=dict)
    size: int = 0
    rows: list[tuple[Idx, Idx, Vec]] = field(default_factory=list)
    row_lower: list[Vec] = field(default_factory=list)
    row_upper: list[Vec] = field(default_factory=list)
    row_names: dict[str, tuple[int, int]] = field(default_factory=dict)
    n_rows: int = 0

    def var(
        self,
        name: str,
        n: int,
        lb: float | Vec = 0.0,
        ub: float | Vec = math.inf,
        cost: float | Vec = 0.0,
        binary: bool = False,
    ) -> Idx:
        """Add a block of n variables and return their column indices."""
        idx = np.arange(self.size, self.size + n, dtype=np.int64)
        self.size += n
        self.names[name] = idx
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (n,)).copy())
        self.lower.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).copy())
        self.integer.append(np.full(n, 1.0 if binary else 0.0))
        return idx

    def rows_of(self, name: str, n: int, lb: float | Vec, ub: float | Vec) -> int:
        """Open a block of n rows with bounds lb <= A x <= ub; return the first row's index."""
        first = self.n_rows
        self.n_rows += n
        self.row_names[name] = (first, first + n)
        self.row_lower.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).copy())
        self.row_upper.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).copy())
        return first

    def coef(self, row: Idx | int, col: Idx, value: float | Vec) -> None:
        """Set coefficients A[row, col] = value (vectorized)."""
        col = np.asarray(col, dtype=np.int64)
        r = np.broadcast_to(np.asarray(row, dtype=np.int64), col.shape)
        v = np.broadcast_to(np.asarray(value, dtype=np.float64), col.shape)
        self.rows.append((r.copy(), col.copy(), v.copy()))


@dataclass(frozen=True)
class Relax:
    """Which hard limits the relaxed stage turns into penalized slack."""

    grid_limits: bool = False
    soc_band: bool = False


@dataclass
class Solution:
    """The solver's answer: status as HiGHS reported it, and the named variables' values when there is one."""

    ok: bool
    status: int
    message: str
    seconds: float
    objective: float = math.nan
    values: dict[str, Vec] = field(default_factory=dict)
    integral: bool = True


# --- variables ------------------------------------------------------------------------------------------------


def variables_battery(m: Model, req: PlanRequest, relax: Relax) -> None:
    """p_charge_kw, p_discharge_kw, is_charging (binary) and soc_kwh (end of each step) for every battery."""
    n, dt = req.steps, req.step_h
    for b, batt in enumerate(req.batteries):
        wear = (batt.cycle_cost_per_kwh + TIE_BREAK_PER_KWH) * dt
        m.var(f"p_charge_kw[{b}]", n, 0.0, batt.charge_max_kw, cost=wear)
        m.var(f"p_discharge_kw[{b}]", n, 0.0, batt.discharge_max_kw, cost=wear)
        m.var(f"is_charging[{b}]", n, 0.0, 1.0, binary=True)
        if relax.soc_band:
            m.var(f"soc_kwh[{b}]", n, 0.0, batt.capacity_kwh)
        else:
            m.var(f"soc_kwh[{b}]", n, batt.soc_min_frac * batt.capacity_kwh, batt.soc_max_frac * batt.capacity_kwh)
        m.var(f"soc_short_kwh[{b}]", 1, 0.0, math.inf, cost=req.soc_target_penalty_per_kwh)


def variables_grid(m: Model, req: PlanRequest, relax: Relax) -> None:
    """p_grid_import_kw and p_grid_export_kw with their price, carbon and (when relaxed) limit slack."""
    dt = req.step_h
    price_in = np.asarray(req.import_price_per_kwh)
    price_out = np.asarray(req.export_price_per_kwh)
    carbon = np.asarray(req.carbon_kg_per_kwh) if req.carbon_kg_per_kwh else np.zeros(req.steps)
    import_cost = (price_in + req.carbon_weight_per_kg * carbon) * dt
    if relax.grid_limits:
        m.var("p_grid_import_kw", req.steps, 0.0, math.inf, cost=import_cost)
        m.var("p_grid_export_kw", req.steps, 0.0, math.inf, cost=-price_out * dt)
        m.var("p_import_over_kw", req.steps, 0.0, math.inf, cost=RELAX_PENALTY_PER_KWH * dt)
        m.var("p_export_over_kw", req.steps, 0.0, math.inf, cost=RELAX_PENALTY_PER_KWH * dt)
    else:
        m.var("p_grid_import_kw", req.steps, 0.0, req.grid_import_max_kw, cost=import_cost)
        m.var("p_grid_export_kw", req.steps, 0.0, req.grid_export_max_kw, cost=-price_out * dt)


def windows_of(req: PlanRequest) -> tuple[Idx, list[int]]:
    """Each step's billing window index (0 = the window the plan starts in) and the distinct window ids."""
    ids = req.billing_window or [0] * req.steps
    distinct = list(dict.fromkeys(ids))
    return np.asarray([distinct.index(w) for w in ids], dtype=np.int64), distinct


def variables_demand(m: Model, req: PlanRequest) -> None:
    """peak_import_kw per billing window, billed at demand_charge_per_kw; the first starts at the peak so far."""
    if req.demand_charge_per_kw <= 0:
        return
    _, distinct = windows_of(req)
    lb = np.zeros(len(distinct))
    lb[0] = req.peak_so_far_kw
    m.var("peak_import_kw", len(distinct), lb, math.inf, cost=req.demand_charge_per_kw)


# --- constraints ----------------------------------------------------------------------------------------------


def constraint_power_balance(m: Model, req: PlanRequest) -> None:
    """import - export + sum(discharge) - sum(charge) = load, every step."""
    n = req.steps
    r = m.rows_of("power_balance", n, np.asarray(req.load_kw), np.asarray(req.load_kw)) + np.arange(n)
    m.coef(r, m.names["p_grid_import_kw"], 1.0)
    m.coef(r, m.names["p_grid_export_kw"], -1.0)
    for b in range(len(req.batteries)):
        m.coef(r, m.names[f"p_discharge_kw[{b}]"], 1.0)
        m.coef(r, m.names[f"p_charge_kw[{b}]"], -1.0)


def constraint_soc_dynamics(m: Model, req: PlanRequest) -> None:
    """soc[t] = soc[t-1] + (eta_c * charge - discharge / eta_d) * dt, from the live state of charge."""
    n, dt = req.steps, req.step_h
    for b, batt in enumerate(req.batteries):
        rhs = np.zeros(n)
        rhs[0] = req.soc_initial_frac[b] * batt.capacity_kwh
        r = m.rows_of(f"soc_dynamics[{b}]", n, rhs, rhs) + np.arange(n)
        soc = m.names[f"soc_kwh[{b}]"]
        m.coef(r, soc, 1.0)
        m.coef(r[1:], soc[:-1], -1.0)
        m.coef(r, m.names[f"p_charge_kw[{b}]"], -batt.charge_efficiency * dt)
        m.coef(r, m.names[f"p_discharge_kw[{b}]"], dt / batt.discharge_efficiency)


def constraint_no_simultaneous_charge_discharge(m: Model, req: PlanRequest) -> None:
    """charge <= Pc * is_charging and discharge <= Pd * (1 - is_charging)."""
    n = req.steps
    for b, batt in enumerate(req.batteries):
        u = m.names[f"is_charging[{b}]"]
        r = m.rows_of(f"charge_if_charging[{b}]", n, -math.inf, 0.0) + np.arange(n)
        m.coef(r, m.names[f"p_charge_kw[{b}]"], 1.0)
        m.coef(r, u, -batt.charge_max_kw)
        r = m.rows_of(f"discharge_if_not_charging[{b}]", n, -math.inf, batt.discharge_max_kw) + np.arange(n)
        m.coef(r, m.names[f"p_discharge_kw[{b}]"], 1.0)
        m.coef(r, u, batt.discharge_max_kw)


def constraint_final_soc(m: Model, req: PlanRequest) -> None:
    """soc[end] + soc_short >= target (soft: each kWh short costs soc_target_penalty_per_kwh)."""
    for b, batt in enumerate(req.batteries):
        r = m.rows_of(f"final_soc[{b}]", 1, batt.soc_target_frac * batt.capacity_kwh, math.inf)
        m.coef(r, m.names[f"soc_kwh[{b}]"][-1:], 1.0)
        m.coef(r, m.names[f"soc_short_kwh[{b}]"], 1.0)


def constraint_soc_band_relaxed(m: Model, req: PlanRequest) -> None:
    """Relaxed stage: soc within [soc_min, soc_max] up to penalized soc_under_kwh / soc_over_kwh."""
    n = req.steps
    for b, batt in enumerate(req.batteries):
        soc = m.names[f"soc_kwh[{b}]"]
        under = m.var(f"soc_under_kwh[{b}]", n, 0.0, math.inf, cost=SOC_RELAX_PENALTY_PER_KWH)
        over = m.var(f"soc_over_kwh[{b}]", n, 0.0, math.inf, cost=SOC_RELAX_PENALTY_PER_KWH)
        r = m.rows_of(f"soc_min[{b}]", n, batt.soc_min_frac * batt.capacity_kwh, math.inf) + np.arange(n)
        m.coef(r, soc, 1.0)
        m.coef(r, under, 1.0)
        r = m.rows_of(f"soc_max[{b}]", n, -math.inf, batt.soc_max_frac * batt.capacity_kwh) + np.arange(n)
        m.coef(r, soc, 1.0)
        m.coef(r, over, -1.0)


def constraint_grid_limits_relaxed(m: Model, req: PlanRequest) -> None:
    """Relaxed stage: import <= limit + p_import_over_kw, export <= limit + p_export_over_kw (penalized)."""
    n = req.steps
    for kind, limit in (("import", req.grid_import_max_kw), ("export", req.grid_export_max_kw)):
        if math.isinf(limit):
            continue
        r = m.rows_of(f"grid_{kind}_limit", n, -math.inf, limit) + np.arange(n)
        m.coef(r, m.names[f"p_grid_{kind}_kw"], 1.0)
        m.coef(r, m.names[f"p_{kind}_over_kw"], -1.0)


def constraint_no_simultaneous_import_export(m: Model, req: PlanRequest) -> None:
    """Where exporting pays at least as much as importing costs, a binary forbids importing and exporting at once."""
    price_in = np.asarray(req.import_price_per_kwh)
    price_out = np.asarray(req.export_price_per_kwh)
    steps = np.flatnonzero(price_out >= price_in)
    if steps.size == 0:
        return
    load = np.asarray(req.load_kw)
    big_in = float(max(load.max(), 0.0) + sum(b.charge_max_kw for b in req.batteries) + 1.0)
    big_out = float(max(-load.min(), 0.0) + sum(b.discharge_max_kw for b in req.batteries) + 1.0)
    k = steps.size
    v = m.var("is_importing", k, 0.0, 1.0, binary=True)
    r = m.rows_of("import_if_importing", k, -math.inf, 0.0) + np.arange(k)
    m.coef(r, m.names["p_grid_import_kw"][steps], 1.0)
    m.coef(r, v, -big_in)
    r = m.rows_of("export_if_not_importing", k, -math.inf, big_out) + np.arange(k)
    m.coef(r, m.names["p_grid_export_kw"][steps], 1.0)
    m.coef(r, v, big_out)


def quarter_hours(req: PlanRequest) -> list[Idx]:
    """Steps grouped by the 15-minute interval they fall in (a step of 15 minutes or more is its own group)."""
    if req.step_s >= QUARTER_HOUR_S:
        return [np.asarray([t]) for t in range(req.steps)]
    ts = req.start_ts + req.step_s * np.arange(req.steps)
    bucket = np.floor(ts / QUARTER_HOUR_S).astype(np.int64)
    return [np.flatnonzero(bucket == q) for q in np.unique(bucket)]


def constraint_demand_peak(m: Model, req: PlanRequest) -> None:
    """peak_import_kw[window] >= the average import of every 15-minute interval in that window."""
    if req.demand_charge_per_kw <= 0:
        return
    window, _ = windows_of(req)
    groups = quarter_hours(req)
    first = m.rows_of("demand_peak", len(groups), -math.inf, 0.0)
    imp, peak = m.names["p_grid_import_kw"], m.names["peak_import_kw"]
    for g, steps in enumerate(groups):
        m.coef(first + g, imp[steps], 1.0 / steps.size)
        m.coef(first + g, peak[window[steps[:1]]], -1.0)


def build(req: PlanRequest, relax: Relax = Relax()) -> Model:
    """The whole model of one plan request."""
    m = Model()
    variables_battery(m, req, relax)
    variables_grid(m, req, relax)
    variables_demand(m, req)
    constraint_power_balance(m, req)
    constraint_soc_dynamics(m, req)
    constraint_no_simultaneous_charge_discharge(m, req)
    constraint_final_soc(m, req)
    constraint_no_simultaneous_import_export(m, req)
    constraint_demand_peak(m, req)
    if relax.soc_band:
        constraint_soc_band_relaxed(m, req)
    if relax.grid_limits:
        constraint_grid_limits_relaxed(m, req)
    return m


def _complementary(m: Model, x: Vec, req: PlanRequest) -> bool:
    """True when no battery charges and discharges in the same step, nor the grid imports and exports at once."""
    for b in range(len(req.batteries)):
        both = np.minimum(x[m.names[f"p_charge_kw[{b}]"]], x[m.names[f"p_discharge_kw[{b}]"]])
        if both.size and both.max() > FEAS_TOL:
            return False
    if "is_importing" in m.names:
        both = np.minimum(x[m.names["p_grid_import_kw"]], x[m.names["p_grid_export_kw"]])
        if both.max() > FEAS_TOL:
            return False
    return True


def solve(m: Model, req: PlanRequest, time_limit_s: float) -> Solution:
    """Solve with HiGHS: the LP relaxation first, whose optimum is the MILP's when it never charges and discharges
    at once (the usual case); the MILP with its binaries otherwise."""
    started = time.perf_counter()
    c = np.concatenate(m.cost)
    bounds = Bounds(np.concatenate(m.lower), np.concatenate(m.upper))
    rows = np.concatenate([r for r, _, _ in m.rows])
    cols = np.concatenate([cc for _, cc, _ in m.rows])
    vals = np.concatenate([v for _, _, v in m.rows])
    a = coo_matrix((vals, (rows, cols)), shape=(m.n_rows, m.size)).tocsr()
    constraints = LinearConstraint(a, np.concatenate(m.row_lower), np.concatenate(m.row_upper))
    integrality = np.concatenate(m.integer)
    lp = milp(c, constraints=constraints, bounds=bounds, options={"time_limit": time_limit_s})
    res = lp
    integral = True
    if lp.status == 0 and lp.x is not None and not _complementary(m, lp.x, req):
        left = max(time_limit_s - (time.perf_counter() - started), 0.05)
        res = milp(
            c,
            constraints=constraints,
            integrality=integrality,
            bounds=bounds,
            options={"time_limit": left, "mip_rel_gap": 1e-6},
        )
        integral = res.status == 0
    seconds = time.perf_counter() - started
    # HiGHS via scipy: 0 optimal, 1 iteration or time limit, 2 infeasible, 3 unbounded, 4 other
    if res.x is None:
        return Solution(False, int(res.status), str(res.message), seconds)
    x = np.asarray(res.x, dtype=np.float64)
    values = {name: x[idx] for name, idx in m.names.items()}
    return Solution(
        ok=True,
        status=int(res.status),
        message=str(res.message),
        seconds=seconds,
        objective=float(res.fun),
        values=values,
        integral=integral,
    )
