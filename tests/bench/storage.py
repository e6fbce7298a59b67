"""Storage bench: Gridwatch's dispatch MILP against EMHASS and a rule-based baseline on identical inputs.

`python -m tests.bench.storage --out docs/storage.md` (`make eval-storage`) regenerates the tables in docs/storage.md
and the raw figures beside it; `make bench` runs the same as its storage phase. EMHASS runs in its own uv project
(tests/bench/emhass/, its own lock), never in the workspace.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from gridwatch.storage.planner import plan
from gridwatch.storage.problem import Battery, PlanRequest, PlanResult, PlanStatus
from gridwatch.storage.safety import cost_of, make_safe

Vec = npt.NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[2]
EMHASS_PROJECT = ROOT / "tests" / "bench" / "emhass"
STEP_S = 1800.0
STEPS_PER_DAY = 48
# Gridwatch's default two-rate tariff (the EnergySite's analytics.tariff): peak 17-21 h local time
PEAK_PRICE, OFFPEAK_PRICE, PEAK_HOURS = 0.32, 0.18, (17, 21)
EXPORT_PRICE = 0.0
SITE_MEAN_KW = 1.5  # both load series are scaled to this mean: a site the size EMHASS's default battery suits
DEMAND_CHARGE_PER_KW = 5.0  # per kW of the week's highest 15-minute average import (the billing window)
TAYLOR_START = dt.datetime(2000, 6, 5, tzinfo=dt.UTC)  # load_taylor's first half hour (a Monday)
SIM_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday

# EMHASS's default battery (config_defaults.json): 5 kWh, 1 kW, 0.95/0.95, SOC 0.3-0.9, target 0.6
EMHASS_BATTERY: dict[str, float] = {
    "capacity_kwh": 5.0,
    "charge_max_kw": 1.0,
    "discharge_max_kw": 1.0,
    "charge_efficiency": 0.95,
    "discharge_efficiency": 0.95,
    "soc_min_frac": 0.3,
    "soc_max_frac": 0.9,
    "soc_target_frac": 0.6,
}


def gridwatch_battery() -> Battery:
    """The same physical battery in Gridwatch's terms. EMHASS bounds the battery side of the inverter (AC charge
    <= 1 kW, AC discharge <= 0.95 * 1 kW, its optimization.py); Gridwatch's limits are AC, so they are stated so."""
    b = EMHASS_BATTERY
    return Battery(
        name="battery",
        capacity_kwh=b["capacity_kwh"],
        charge_max_kw=b["charge_max_kw"],
        discharge_max_kw=b["discharge_max_kw"] * b["discharge_efficiency"],
        charge_efficiency=b["charge_efficiency"],
        discharge_efficiency=b["discharge_efficiency"],
        soc_min_frac=b["soc_min_frac"],
        soc_max_frac=b["soc_max_frac"],
        soc_target_frac=b["soc_target_frac"],
    )


# --- inputs ---------------------------------------------------------------------------------------------------


def taylor_load_kw(days: int) -> Vec:
    """The first `days` days of load_taylor (England & Wales half-hourly demand, MW), scaled to the site's mean."""
    from pmdarima.datasets import load_taylor  # type: ignore[import-untyped,import-not-found,unused-ignore]

    y = np.asarray(load_taylor(), dtype=np.float64)[: days * STEPS_PER_DAY]
    scaled: Vec = y / y.mean() * SITE_MEAN_KW
    return scaled


def simulator_load_kw(days: int, sensors: int = 60, seed: int = 7) -> Vec:
    """The simulator's site load (sum of its machines' power), averaged per half hour, scaled to the site's mean."""
    from gridwatch.common.schema import SensorType
    from gridwatch.simulator.plant import Plant, build_layout

    rng = np.random.default_rng(seed)
    layout = build_layout(sensors, [SensorType.POWER], rng)
    plant = Plant(layout, rng, start_hour=0.0)
    sample_s = 300.0
    per_step = int(STEP_S / sample_s)
    samples = np.asarray(
        [float((plant.rated_kw * plant.load(i * sample_s)).sum()) for i in range(days * STEPS_PER_DAY * per_step)]
    )
    y = samples.reshape(-1, per_step).mean(axis=1)
    scaled: Vec = y / y.mean() * SITE_MEAN_KW
    return scaled


def tou_price(start: dt.datetime, n: int) -> Vec:
    """Import price per kWh of each half hour (site time zone UTC)."""
    hours = np.asarray([(start + dt.timedelta(seconds=STEP_S * i)).hour for i in range(n)])
    return np.where((hours >= PEAK_HOURS[0]) & (hours < PEAK_HOURS[1]), PEAK_PRICE, OFFPEAK_PRICE)


@dataclass(frozen=True)
class Day:
    """One day-ahead plan's inputs."""

    start: dt.datetime
    load_kw: Vec
    import_price: Vec
    export_price: Vec


def days_of(load_kw: Vec, start: dt.datetime) -> list[Day]:
    """Split a series into day-ahead horizons."""
    out = []
    for d in range(load_kw.size // STEPS_PER_DAY):
        s = start + dt.timedelta(days=d)
        load = load_kw[d * STEPS_PER_DAY : (d + 1) * STEPS_PER_DAY]
        out.append(Day(s, load, tou_price(s, STEPS_PER_DAY), np.full(STEPS_PER_DAY, EXPORT_PRICE)))
    return out


def request(day: Day, soc: float, demand_charge: float = 0.0, peak_so_far_kw: float = 0.0) -> PlanRequest:
    """Gridwatch's request for one day: EMHASS's constraints (no export: its set_nodischarge_to_grid default with
    no PV; grid import <= its 9 kW default)."""
    return PlanRequest(
        start_ts=day.start.timestamp(),
        step_s=STEP_S,
        load_kw=day.load_kw.tolist(),
        import_price_per_kwh=day.import_price.tolist(),
        export_price_per_kwh=day.export_price.tolist(),
        batteries=[gridwatch_battery()],
        soc_initial_frac=[soc],
        grid_import_max_kw=9.0,
        grid_export_max_kw=0.0,
        demand_charge_per_kw=demand_charge,
        peak_so_far_kw=peak_so_far_kw,
    )


# --- the three planners ---------------------------------------------------------------------------------------


@dataclass
class DayResult:
    """One method's plan for one day, priced by the same function for every method."""

    cost: float
    cost_without_battery: float
    peak_import_kw: float
    soc_end: float
    solve_time_s: float
    status: str
    cpu_s: float = float("nan")


@dataclass
class Run:
    """One method over the rolling week."""

    method: str
    days: list[DayResult] = field(default_factory=list)
    error: str = ""

    @property
    def infeasible(self) -> int:
        """Plans that were not solved as asked."""
        return sum(1 for d in self.days if d.status not in ("optimal", "Optimal", "rule"))


def _priced(day: Day, soc: float, net_kw: Vec, seconds: float, status: str, demand: float, peak: float) -> DayResult:
    req = request(day, soc, demand, peak)
    safe = make_safe(req.batteries[0], soc, net_kw, req.step_h)
    c = cost_of(req, safe.p_discharge_kw - safe.p_charge_kw)
    base = cost_of(req, np.zeros(req.steps))
    return DayResult(
        cost=c.energy_cost,
        cost_without_battery=base.energy_cost,
        peak_import_kw=c.peak_import_kw,
        soc_end=float(safe.soc_kwh[-1] / req.batteries[0].capacity_kwh),
        solve_time_s=seconds,
        status=status,
    )


def run_gridwatch(days: list[Day], demand_charge: float = 0.0) -> Run:
    """Rolling day-ahead plans: each starts at the SOC the previous one ends at, with the week's peak so far."""
    run = Run("gridwatch")
    soc, peak = EMHASS_BATTERY["soc_target_frac"], 0.0
    for day in days:
        req = request(day, soc, demand_charge, peak)
        started, cpu_started = time.perf_counter(), time.process_time()
        res: PlanResult = plan(req)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        net = np.asarray(res.batteries[0].p_batt_kw)
        r = _priced(day, soc, net, seconds, res.status.value, demand_charge, peak)
        r.cpu_s = cpu
        run.days.append(r)
        soc = res.batteries[0].soc_frac[-1]
        peak = max(peak, res.peak_import_kw)
    return run


def rule_based_net_kw(day: Day) -> Vec:
    """Charge at full power off-peak, discharge on-peak up to the load (the SOC band is applied by make_safe)."""
    b = gridwatch_battery()
    peak = day.import_price >= PEAK_PRICE
    return np.where(peak, np.minimum(day.load_kw, b.discharge_max_kw), -b.charge_max_kw)


def run_rule_based(days: list[Day]) -> Run:
    """The rule-based baseline over the week, SOC carried from day to day."""
    run = Run("rule-based")
    soc = EMHASS_BATTERY["soc_target_frac"]
    for day in days:
        started = time.perf_counter()
        net = rule_based_net_kw(day)
        r = _priced(day, soc, net, time.perf_counter() - started, "rule", 0.0, 0.0)
        run.days.append(r)
        soc = r.soc_end
    return run


def run_emhass(days: list[Day], capacity_cost_per_kw: float = 0.0) -> Run:
    """EMHASS on the same days, in its own environment; its schedules are priced like Gridwatch's."""
    run = Run("emhass" if capacity_cost_per_kw == 0 else "emhass+capacity")
    spec = {
        "step_min": int(STEP_S // 60),
        "battery": EMHASS_BATTERY,
        "soc_init": EMHASS_BATTERY["soc_target_frac"],
        "capacity_cost_per_kw": capacity_cost_per_kw,
        "days": [
            {
                "start": d.start.replace(tzinfo=None).isoformat(),
                "load_kw": d.load_kw.tolist(),
                "import_price": d.import_price.tolist(),
                "export_price": d.export_price.tolist(),
            }
            for d in days
        ],
    }
    uv = os.environ.get("UV") or shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    cmd = [uv, "run", "--frozen", "--project", str(EMHASS_PROJECT), "python", str(EMHASS_PROJECT / "run_emhass.py")]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(EMHASS_PROJECT / ".venv")
    try:
        proc = subprocess.run(
            cmd, input=json.dumps(spec), capture_output=True, text=True, timeout=1800, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        return run
    if proc.returncode != 0:
        run.error = f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"
        return run
    out = json.loads(proc.stdout)
    soc, peak = EMHASS_BATTERY["soc_target_frac"], 0.0
    for day, rec in zip(days, out["days"], strict=True):
        if "p_batt_kw" not in rec:
            run.days.append(
                DayResult(float("nan"), float("nan"), float("nan"), soc, rec["solve_time_s"], rec["status"])
            )
            continue
        net = np.asarray(rec["p_batt_kw"], dtype=np.float64)
        r = _priced(day, soc, net, float(rec["solve_time_s"]), str(rec["status"]), capacity_cost_per_kw, peak)
        r.cpu_s = float(rec["cpu_s"])
        run.days.append(r)
        soc, peak = r.soc_end, max(peak, r.peak_import_kw)
    run.method += f" {out['emhass_version']}"
    return run


# --- scale ----------------------------------------------------------------------------------------------------


def scale(sites: int, rounds: int, demand_charge: float) -> dict[str, float]:
    """Seconds to plan `sites` sites one after another on one core (a full 15-minute step of a 100-site fleet)."""
    with_affinity = hasattr(os, "sched_setaffinity")
    if with_affinity:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(before)})
    try:
        base = taylor_load_kw(2)
        rng = np.random.default_rng(1)
        reqs = []
        for _ in range(sites):
            shift = int(rng.integers(0, STEPS_PER_DAY))
            day = days_of(np.roll(base, shift)[:STEPS_PER_DAY] * rng.uniform(0.5, 2.0), TAYLOR_START)[0]
            reqs.append(request(day, float(rng.uniform(0.35, 0.85)), demand_charge, 0.0))
        times, cpu = [], []
        statuses: dict[str, int] = {}
        for _ in range(rounds):
            started, cpu_started = time.perf_counter(), time.process_time()
            for r in reqs:
                res = plan(r)
                statuses[res.status.value] = statuses.get(res.status.value, 0) + 1
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    finally:
        if with_affinity:
            os.sched_setaffinity(0, before)
    return {
        "sites": float(sites),
        "demand_charge_per_kw": demand_charge,
        "best_s": min(times),
        "median_s": statistics.median(times),
        "cpu_best_s": min(cpu),
        "cpu_median_s": statistics.median(cpu),
        "optimal_share": statuses.get(PlanStatus.OPTIMAL.value, 0) / (sites * rounds),
    }


# --- the whole evaluation -------------------------------------------------------------------------------------


def evaluate(days: int = 7, emhass: bool = True, sites: int = 100, rounds: int = 3) -> dict[str, Any]:
    """Every figure docs/storage.md shows."""
    series = {
        "load_taylor": days_of(taylor_load_kw(days), TAYLOR_START),
        "simulator": days_of(simulator_load_kw(days), SIM_START),
    }
    out: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "days": days,
        "series": {},
    }
    for name, ds in series.items():
        runs = [run_gridwatch(ds), run_rule_based(ds)]
        peak_runs = [run_gridwatch(ds, DEMAND_CHARGE_PER_KW)]
        if emhass:
            runs.append(run_emhass(ds))
            peak_runs.append(run_emhass(ds, DEMAND_CHARGE_PER_KW))
        demand = [{**_summary(r), "label": f"{r.method}, demand charge in the objective"} for r in peak_runs]
        demand += [{**_summary(r), "label": f"{r.method}, no demand charge"} for r in runs if r.method != "rule-based"]
        out["series"][name] = {"energy": [_summary(r) for r in runs], "demand": demand}
    out["scale"] = [scale(sites, rounds, 0.0), scale(sites, rounds, DEMAND_CHARGE_PER_KW)]
    return out


def _summary(run: Run) -> dict[str, Any]:
    times = [d.solve_time_s for d in run.days]
    return {
        "method": run.method,
        "error": run.error,
        "cost": [d.cost for d in run.days],
        "cost_without_battery": [d.cost_without_battery for d in run.days],
        "peak_import_kw": max((d.peak_import_kw for d in run.days), default=float("nan")),
        "soc_end": [d.soc_end for d in run.days],
        "solve_time_s": times,
        "cpu_s": [d.cpu_s for d in run.days],
        "status": [d.status for d in run.days],
        "infeasible": run.infeasible,
    }


# --- report ---------------------------------------------------------------------------------------------------

BEGIN, END = "<!-- BEGIN GENERATED: make eval-storage -->", "<!-- END GENERATED -->"


def _f(x: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"


def render(res: dict[str, Any]) -> str:
    """The generated section of docs/storage.md."""
    lines = [
        BEGIN,
        "",
        f"Generated {res['generated']} on {res['machine']} by `make eval-storage`; raw figures in `docs/storage.json`.",
        "",
    ]
    for name, s in res["series"].items():
        energy = s["energy"]
        lines += [f"### {name}: {res['days']} day-ahead plans, 30-minute steps", ""]
        for r in energy:
            if r["error"]:
                lines += [f"**{r['method']} did not run:** `{r['error'].splitlines()[-1][:300]}`", ""]
        ok = [r for r in energy if not r["error"]]
        lines.append("| Day | Without battery | " + " | ".join(r["method"] for r in ok) + " |")
        lines.append("| --- | ---: | " + " | ".join("---:" for _ in ok) + " |")
        for d in range(res["days"]):
            base = ok[0]["cost_without_battery"][d]
            lines.append(f"| {d + 1} | {_f(base)} | " + " | ".join(_f(r["cost"][d]) for r in ok) + " |")
        lines.append(
            f"| **week** | **{_f(sum(ok[0]['cost_without_battery']))}** | "
            + " | ".join(f"**{_f(sum(r['cost']))}**" for r in ok)
            + " |"
        )
        lines.append("")
        lines.append(
            "| Method | Solve time per plan, CPU s median / max | Wall s median / max | Not solved as asked "
            "| SOC at week end |"
        )
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        for r in ok:
            t, c = r["solve_time_s"], r["cpu_s"]
            lines.append(
                f"| {r['method']} | {_f(statistics.median(c), 4)} / {_f(max(c), 4)} | "
                f"{_f(statistics.median(t), 4)} / {_f(max(t), 4)} | {r['infeasible']} | {_f(r['soc_end'][-1])} |"
            )
        gw = next((r for r in ok if r["method"] == "gridwatch"), None)
        em = next((r for r in ok if r["method"].startswith("emhass")), None)
        if gw and em:
            worst = max((g - e) / abs(e) for g, e in zip(gw["cost"], em["cost"], strict=True))
            lines += [
                "",
                f"Gridwatch's daily cost minus EMHASS's, worst day: {100 * worst:+.3f} % (target: at most +0.1 %).",
            ]
        lines += [
            "",
            f"With a demand charge of {DEMAND_CHARGE_PER_KW} per kW of the week's highest 15-minute average import:",
            "",
        ]
        lines.append("| Method | Billed peak (kW) | Energy cost of the week | Demand charge | Total |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        for r in s["demand"]:
            if r["error"]:
                continue
            label = r["label"]
            energy_cost = sum(r["cost"])
            demand = DEMAND_CHARGE_PER_KW * r["peak_import_kw"]
            total = energy_cost + demand
            lines.append(f"| {label} | {_f(r['peak_import_kw'])} | {_f(energy_cost)} | {_f(demand)} | {_f(total)} |")
        lines.append("")
    lines += ["### Scale: one step of a fleet, plans one after another on one core", ""]
    lines.append("| Sites | Demand charge | CPU s, best / median | Wall s, best / median | Solved as asked |")
    lines.append("| ---: | ---: | ---: | ---: | ---: |")
    for sc in res["scale"]:
        lines.append(
            f"| {int(sc['sites'])} | {sc['demand_charge_per_kw']:g} | {_f(sc['cpu_best_s'])} / "
            f"{_f(sc['cpu_median_s'])} | {_f(sc['best_s'])} / {_f(sc['median_s'])} | "
            f"{100 * sc['optimal_share']:.0f} % |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write(res: dict[str, Any], out: Path) -> None:
    """Replace the generated section of `out` (or append it) and write the raw figures beside it."""
    text = out.read_text() if out.exists() else "# Storage optimizer\n\n"
    section = render(res)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and write the report."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.storage", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "storage.md")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--no-emhass", action="store_true", help="skip EMHASS (no network to install it)")
    args = parser.parse_args(argv)
    res = evaluate(args.days, emhass=not args.no_emhass, sites=args.sites)
    write(res, args.out)
    errors = [r["error"] for s in res["series"].values() for r in s["energy"] if r["error"]]
    for e in errors:
        print(f"EMHASS failed: {e}", file=sys.stderr)
    return 1 if errors else 0


def run_phase(workdir: Path) -> dict[str, Any]:
    """`make bench`'s storage phase: the evaluation in the bench group's environment (pmdarima), writing
    docs/storage.md; returns the headline figures for docs/benchmarks.json."""
    uv = os.environ.get("UV") or shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    out = ROOT / "docs" / "storage.md"
    cmd = [uv, "run", "--frozen", "--group", "bench", "python", "-m", "tests.bench.storage", "--out", str(out)]
    log = workdir / "storage-bench.log"
    with log.open("w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"storage bench exited {proc.returncode}; see {log}")
    res: dict[str, Any] = json.loads(out.with_suffix(".json").read_text())
    return {"report": str(out.relative_to(ROOT)), "scale": res["scale"]}


if __name__ == "__main__":
    sys.exit(main())
