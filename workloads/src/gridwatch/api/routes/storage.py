"""GET /api/v1/storage/plan: the storage optimizer's current battery schedule, its expected cost and savings."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, HTTPException

from gridwatch.api.deps import RepoDep
from gridwatch.api.encoding import MsgspecJSON
from gridwatch.api.openapi import ok, problems
from gridwatch.common.schema import DispatchPlan

router = APIRouter(prefix="/storage", tags=["storage"], default_response_class=MsgspecJSON)


class StorageStep(msgspec.Struct, frozen=True):
    """One step of the plan: forecast load, prices, planned grid import and battery power (> 0 discharges)."""

    ts: float
    load_kw: float
    import_price_per_kwh: float
    export_price_per_kwh: float
    grid_import_kw: float
    battery_kw: float
    soc_frac: float
    carbon_kg_per_kwh: float | None = None  # grid carbon intensity when the plan weighs carbon


class StorageBattery(msgspec.Struct, frozen=True):
    """One battery's schedule: power per step and SOC at each step boundary (one more entry than steps)."""

    name: str
    capacity_kwh: float
    p_batt_kw: list[float]
    soc_frac: list[float]


class StoragePlan(msgspec.Struct, frozen=True):
    """The current dispatch plan; costs are in `currency` over the plan's horizon."""

    site: str
    plan_id: str
    created_ts: float
    start_ts: float
    step_s: float
    status: str
    message: str
    solve_time_s: float
    forecast: str
    currency: str
    expected_cost: float
    cost_without_battery: float
    savings: float
    peak_import_kw: float
    peak_import_without_battery_kw: float
    relaxed: list[str]
    price_source: str  # where import prices came from: the grid signals' day-ahead prices or the site's tariff
    carbon_source: str  # where carbon intensity came from, or why the plan has no carbon term
    carbon_weight_per_kg: float
    carbon_kg: float  # expected grid-import emissions over the horizon, with and without the batteries
    carbon_kg_without_battery: float
    schedule: list[StorageStep]
    batteries: list[StorageBattery]


_decoder = msgspec.json.Decoder(DispatchPlan)


def view(p: DispatchPlan) -> StoragePlan:
    """The API's view of a plan: per-step rows (site totals; SOC weighted by capacity) plus each battery."""
    total_cap = sum(b.capacity_kwh for b in p.batteries)
    schedule = []
    for i, load in enumerate(p.load_kw):
        battery_kw = sum(b.p_batt_kw[i] for b in p.batteries)
        soc = sum(b.soc_frac[i + 1] * b.capacity_kwh for b in p.batteries) / total_cap if total_cap > 0 else 0.0
        schedule.append(
            StorageStep(
                ts=p.start_ts + i * p.step_s,
                load_kw=load,
                import_price_per_kwh=p.import_price_per_kwh[i],
                export_price_per_kwh=p.export_price_per_kwh[i],
                grid_import_kw=p.grid_import_kw[i],
                battery_kw=battery_kw,
                soc_frac=soc,
                carbon_kg_per_kwh=p.carbon_kg_per_kwh[i] if p.carbon_kg_per_kwh else None,
            )
        )
    return StoragePlan(
        site=p.site,
        plan_id=p.plan_id,
        created_ts=p.created_ts,
        start_ts=p.start_ts,
        step_s=p.step_s,
        status=p.status,
        message=p.message,
        solve_time_s=p.solve_time_s,
        forecast=p.forecast,
        currency=p.currency,
        expected_cost=p.expected_cost,
        cost_without_battery=p.cost_without_battery,
        savings=p.savings,
        peak_import_kw=p.peak_import_kw,
        peak_import_without_battery_kw=p.peak_import_without_battery_kw,
        relaxed=p.relaxed,
        price_source=p.price_source,
        carbon_source=p.carbon_source,
        carbon_weight_per_kg=p.carbon_weight_per_kg,
        carbon_kg=p.carbon_kg,
        carbon_kg_without_battery=p.carbon_kg_without_battery,
        schedule=schedule,
        batteries=[StorageBattery(b.name, b.capacity_kwh, b.p_batt_kw, b.soc_frac) for b in p.batteries],
    )


@router.get("/plan", operation_id="storagePlan", responses={**ok(StoragePlan), **problems(404, 503)})
async def storage_plan(repo: RepoDep) -> MsgspecJSON:
    """The storage optimizer's latest plan: schedule, expected cost, cost without battery, savings, solver status."""
    raw = await repo.client.get(repo.keys.storage_plan)
    if raw is None:
        raise HTTPException(404, "no storage plan yet: is `gridwatch storage` running for this site?")
    try:
        plan = _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise HTTPException(503, f"the stored plan is unreadable: {exc}") from exc
    return MsgspecJSON(view(plan))
