"""Typed inputs and outputs of one storage dispatch plan, as msgspec Structs so a plan can be stored and replayed."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

import msgspec

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
Efficiency = Annotated[float, msgspec.Meta(gt=0, le=1)]


class Battery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One battery: energy capacity, power limits, efficiencies and the state-of-charge band it must stay in."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    capacity_kwh: NonNegative
    charge_max_kw: NonNegative
    discharge_max_kw: NonNegative
    charge_efficiency: Efficiency = 0.95
    discharge_efficiency: Efficiency = 0.95
    soc_min_frac: Fraction = 0.3
    soc_max_frac: Fraction = 0.9
    soc_target_frac: Fraction = 0.6
    # Cost of one kWh through the battery (wear); EMHASS's weight_battery_charge/discharge
    cycle_cost_per_kwh: NonNegative = 0.0

    def check(self) -> None:
        """Raise ValueError when the fields contradict each other."""
        if not self.soc_min_frac <= self.soc_target_frac <= self.soc_max_frac:
            raise ValueError(
                f"battery {self.name}: need soc_min_frac <= soc_target_frac <= soc_max_frac, got "
                f"{self.soc_min_frac} / {self.soc_target_frac} / {self.soc_max_frac}"
            )
        if self.capacity_kwh > 0 and self.charge_max_kw + self.discharge_max_kw <= 0:
            raise ValueError(f"battery {self.name}: a battery with capacity needs charge or discharge power")


class PlanRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything one plan depends on: the horizon's series (one entry per step), the batteries and the tariff.

    `load_kw` is the site's net load forecast (consumption minus local generation; negative = surplus).
    Prices are per kWh in the site's currency; `carbon_kg_per_kwh` with `carbon_weight_per_kg` adds a second,
    weighted objective. The demand charge bills the highest 15-minute average import of each billing window:
    `billing_window[t]` names step t's window, `peak_so_far_kw` is the peak already billed in the first window.
    """

    start_ts: float
    step_s: Annotated[float, msgspec.Meta(gt=0, le=86400)]
    load_kw: list[float]
    import_price_per_kwh: list[float]
    export_price_per_kwh: list[float]
    batteries: list[Battery]
    soc_initial_frac: list[float]
    grid_import_max_kw: float = math.inf
    grid_export_max_kw: float = math.inf
    carbon_kg_per_kwh: list[float] = []
    carbon_weight_per_kg: NonNegative = 0.0
    demand_charge_per_kw: NonNegative = 0.0
    billing_window: list[int] = []
    peak_so_far_kw: NonNegative = 0.0
    # Price of each kWh the final state of charge falls short of its target (soft constraint)
    soc_target_penalty_per_kwh: NonNegative = 10.0
    time_limit_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0

    @property
    def steps(self) -> int:
        """Number of steps in the horizon."""
        return len(self.load_kw)

    @property
    def step_h(self) -> float:
        """Step length in hours."""
        return self.step_s / 3600.0

    def check(self) -> None:
        """Raise ValueError with a readable reason when the request cannot be planned."""
        n = self.steps
        if n == 0:
            raise ValueError("empty horizon")
        for name in ("import_price_per_kwh", "export_price_per_kwh"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, load_kw has {n}")
        for name in ("carbon_kg_per_kwh", "billing_window"):
            size = len(getattr(self, name))
            if size not in (0, n):
                raise ValueError(f"{name} has {size} entries, load_kw has {n}")
        for name in ("load_kw", "import_price_per_kwh", "export_price_per_kwh", "carbon_kg_per_kwh"):
            if not all(math.isfinite(v) for v in getattr(self, name)):
                raise ValueError(f"{name} must be finite numbers")
        if len(self.soc_initial_frac) != len(self.batteries):
            raise ValueError(f"{len(self.soc_initial_frac)} initial SOCs for {len(self.batteries)} batteries")
        if not all(math.isfinite(v) and 0 <= v <= 1 for v in self.soc_initial_frac):
            raise ValueError("soc_initial_frac must be within 0..1")
        if self.grid_import_max_kw < 0 or self.grid_export_max_kw < 0:
            raise ValueError("grid limits must be >= 0")
        if len({b.name for b in self.batteries}) != len(self.batteries):
            raise ValueError("battery names must be unique")
        for b in self.batteries:
            b.check()


class PlanStatus(StrEnum):
    """How a plan was obtained; anything but OPTIMAL is reported in status and metrics."""

    OPTIMAL = "optimal"  # every constraint as asked
    RELAXED = "relaxed"  # infeasible as asked; grid limits or SOC band relaxed with penalties
    TIME_LIMIT = "time_limit"  # the solver stopped at its time limit with a feasible, maybe suboptimal plan
    FALLBACK_LAST = "fallback_last"  # no solve: the last good plan, re-checked against the current state
    FALLBACK_IDLE = "fallback_idle"  # no solve and no usable last plan: batteries idle


class BatterySchedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One battery's schedule; `p_batt_kw` > 0 discharges (EMHASS's sign), `soc_frac` has steps + 1 entries."""

    name: str
    p_charge_kw: list[float]
    p_discharge_kw: list[float]
    p_batt_kw: list[float]
    soc_frac: list[float]


class PlanResult(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A safe plan and what it is expected to cost, with and without the batteries."""

    status: PlanStatus
    message: str
    solve_time_s: float
    start_ts: float
    step_s: float
    load_kw: list[float]
    import_price_per_kwh: list[float]
    export_price_per_kwh: list[float]
    grid_import_kw: list[float]
    grid_export_kw: list[float]
    batteries: list[BatterySchedule]
    energy_cost: float
    demand_cost: float
    expected_cost: float
    energy_cost_without_battery: float
    demand_cost_without_battery: float
    cost_without_battery: float
    savings: float
    peak_import_kw: float
    peak_import_without_battery_kw: float
    carbon_kg: float
    carbon_kg_without_battery: float
    relaxed: list[str] = []
