"""Forecasting bench phase: day-ahead accuracy on Taylor's demand series and the simulator's site load, side by side
with statsforecast's MSTL and AutoETS, and the speed of forecasting 10,000 machines; writes docs/forecasting.md.

`python -m tests.bench.forecasting [--quick]` runs it alone (`make eval-forecast`); the full bench runs it too;
`--speed` measures only the speed (`make eval-forecast-speed`, a few minutes) and rewrites only its section.
pmdarima and statsforecast come from the `bench` dependency group, never the runtime.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gridwatch.common.forecast.backtest import YARDSTICK, BacktestResult, backtest, fold_metrics, fold_origins
from gridwatch.common.forecast.models import GradientBoosting, SeasonalAR
from gridwatch.common.forecast.panel import F64, Panel

log = logging.getLogger("bench.forecasting")
DOC = Path("docs/forecasting.md")
BEGIN, END = "<!-- forecasting-bench:begin -->", "<!-- forecasting-bench:end -->"  # accuracy
SPEED_BEGIN, SPEED_END = "<!-- forecasting-speed:begin -->", "<!-- forecasting-speed:end -->"
TAYLOR_START = 959_558_400.0  # Monday 5 June 2000 00:00, the series' first half hour (local time read as UTC)


@dataclass
class SeriesResult:
    """One series' backtest: our models and the off-the-shelf peers, scored by the same metric code."""

    name: str
    step_minutes: float
    horizon: int
    folds: int
    models: list[dict[str, Any]]
    selected: str
    peers: list[dict[str, Any]] = field(default_factory=list)
    peer_error: str = ""
    seconds: float = 0.0


def taylor() -> Panel:
    """Half-hourly England & Wales electricity demand, 5 June - 27 August 2000 (4,032 values), from pmdarima."""
    datasets = importlib.import_module("pmdarima.datasets")  # bench group only: not imported for type checks
    values = np.asarray(datasets.load_taylor(), dtype=np.float64)
    return Panel.single(values, TAYLOR_START, 1800.0, "taylor")


def simulator_site(weeks: int = 8, step_s: float = 1800.0, machines: int = 200, seed: int = 7) -> Panel:
    """The simulator's site load (sum of every machine's kW), sampled every 5 minutes and averaged per step."""
    from gridwatch.common.schema import SensorType
    from gridwatch.simulator.plant import Plant, build_layout

    rng = np.random.default_rng(seed)
    layout = build_layout(machines, [SensorType.POWER], rng)
    plant = Plant(layout, rng, start_hour=0.0)
    sample_s = 300.0
    per_step = int(step_s // sample_s)
    samples = int(weeks * 7 * 86_400 // sample_s)
    site = np.empty(samples)
    for k in range(samples):
        site[k] = float(np.sum(plant.rated_kw * plant.load(k * sample_s)))
    values = site.reshape(-1, per_step).mean(axis=1)
    return Panel.single(values, 1_704_067_200.0, step_s, "simulator-site")  # starts on a Monday


def peers(panel: Panel, horizon: int, folds: int) -> list[dict[str, Any]]:
    """statsforecast's MSTL (daily + weekly seasons, AutoETS trend) and AutoETS (daily season) on the same folds."""
    pd = importlib.import_module("pandas")  # the bench group's statsforecast brings pandas
    sf_core = importlib.import_module("statsforecast")
    sf_models = importlib.import_module("statsforecast.models")
    MSTL, AutoETS = sf_models.MSTL, sf_models.AutoETS  # noqa: N806

    day, week = panel.day, panel.week
    ds = pd.to_datetime(panel.time_at(np.arange(panel.length)), unit="s")
    df = pd.DataFrame({"unique_id": panel.ids[0], "ds": ds, "y": panel.values[0]})
    models = [MSTL(season_length=[day, week], trend_forecaster=AutoETS(model="ZZN")), AutoETS(season_length=day)]
    sf = sf_core.StatsForecast(models=models, freq=f"{int(panel.step_s)}s", n_jobs=1)
    cv = sf.cross_validation(df=df, h=horizon, step_size=horizon, n_windows=folds, level=[80])
    cutoffs = sorted(cv["cutoff"].unique())
    out: list[dict[str, Any]] = []
    for alias in ("MSTL", "AutoETS"):
        sums = np.zeros(4)
        for origin, cutoff in zip(fold_origins(panel.length, horizon, folds), cutoffs, strict=True):
            part = cv[cv["cutoff"] == cutoff].sort_values("ds")
            q = np.stack([part[f"{alias}-lo-80"], part[alias], part[f"{alias}-hi-80"]], axis=-1)[None, :, :]
            actual = panel.values[:, origin : origin + horizon]
            sums += np.array([float(np.mean(m)) for m in fold_metrics(panel.head(origin), actual, q)])
        mase, smape, loss, cover = sums / folds
        name = f"statsforecast {alias}"
        out.append({"name": name, "mase": mase, "smape": smape, "pinball": loss, "coverage_p10_p90": cover})
    return out


def run_series(panel: Panel, horizon: int, folds: int, with_peers: bool = True) -> SeriesResult:
    """Our backtest and, on the same folds, the peers."""
    started = time.monotonic()
    result: BacktestResult = backtest(panel, horizon, folds)
    res = SeriesResult(
        name=panel.ids[0],
        step_minutes=panel.step_s / 60.0,
        horizon=horizon,
        folds=folds,
        models=[{**s.as_dict(), "fit_seconds": round(s.fit_seconds, 2)} for s in result.scores],
        selected=result.selected,
    )
    if with_peers:
        try:
            res.peers = peers(panel, horizon, folds)
        except ImportError as exc:  # the bench group is not installed
            res.peer_error = f"statsforecast unavailable: {exc}"
    res.seconds = round(time.monotonic() - started, 1)
    return res


def speed(machines: int = 10_000, step_s: float = 900.0, weeks: int = 3, seed: int = 11) -> dict[str, float]:
    """Seconds to forecast `machines` series for 24 h at 15 min on one core, from a trained global model."""
    rng = np.random.default_rng(seed)
    day = int(86_400 // step_s)
    t = np.arange(weeks * 7 * day)
    hour = (t % day) * 24.0 / day
    shape = 0.7 + 0.3 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
    rated = rng.uniform(15.0, 400.0, machines)
    values: F64 = rated[:, None] * shape[None, :] * (1.0 + rng.normal(0.0, 0.03, (machines, t.size)))
    panel = Panel(values, 1_704_067_200.0, step_s, tuple(f"m{i:05d}" for i in range(machines)))
    horizon = day
    clock = _Clock()
    model = GradientBoosting().fit(panel, horizon)
    train = clock.lap()
    filled = panel.filled()
    q = model.predict_from(filled, panel, horizon)
    gbm = clock.lap()
    SeasonalAR().fit(panel, horizon).predict(horizon)
    sar = clock.lap()
    assert q.shape == (machines, horizon, 3)
    return {
        "machines": float(machines),
        "horizon_steps": float(horizon),
        "gbm_train_s": train[0],
        "gbm_train_cpu_s": train[1],
        "gbm_predict_s": gbm[0],
        "gbm_predict_cpu_s": gbm[1],
        "seasonal_ar_fit_predict_s": sar[0],
        "seasonal_ar_fit_predict_cpu_s": sar[1],
        "load_average": round(os.getloadavg()[0], 1),
        "cores": float(os.cpu_count() or 1),
    }


class _Clock:
    """Wall and CPU seconds since the last lap: on a busy machine the CPU time is the one-core cost."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = (round(wall - self.wall, 2), round(cpu - self.cpu, 2))
        self.wall, self.cpu = wall, cpu
        return out


def run_phase(workdir: Path | None = None, quick: bool = False) -> dict[str, Any]:
    """Everything the phase measures; writes docs/forecasting.md's generated section."""
    folds = 7 if quick else 28
    out: dict[str, Any] = {"series": [], "errors": []}
    try:
        out["series"].append(run_series(taylor(), 48, folds).__dict__)
    except ImportError as exc:
        out["errors"].append(f"Taylor series unavailable (pmdarima not installed?): {exc}")
    sim = simulator_site(weeks=8)
    out["series"].append(run_series(sim, 48, folds).__dict__)
    out["speed"] = speed(2_000 if quick else 10_000)
    out["quick"] = quick
    write_doc(out)
    if workdir is not None:
        (workdir / "forecasting.json").write_text(json.dumps(out, indent=2))
    return out


def _row(m: dict[str, Any], base: float, selected: str) -> str:
    gain = f"{100.0 * (1.0 - m['mase'] / base):+.1f} %" if base > 0 else "-"
    name = f"**{m['name']}** (selected)" if m["name"] == selected else m["name"]
    return (
        f"| {name} | {m['mase']:.3f} | {gain} | {m['smape']:.2f} | {m['pinball']:.3f} | "
        f"{100.0 * m['coverage_p10_p90']:.1f} % |"
    )


def render(out: dict[str, Any]) -> str:
    """The generated accuracy section."""
    lines = [
        BEGIN,
        f"_Generated by `make eval-forecast` / `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]
    lines[-1] += f" ({'quick: 7 folds' if out.get('quick') else '28 folds'})._"
    lines.append("")
    for s in out["series"]:
        base = next(m["mase"] for m in s["models"] if m["name"] == YARDSTICK)
        lines.append(
            f"**{s['name']}**: {s['folds']} day-ahead folds ({s['horizon']} steps of {s['step_minutes']:g} min), "
            f"rolling origin ({s['seconds']:g} s)."
        )
        lines.append("")
        lines.append("| model | MASE | vs seasonal naive | sMAPE % | pinball | P10-P90 coverage |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        rows = sorted([*s["models"], *s["peers"]], key=lambda m: float(m["mase"]))
        lines.extend(_row(m, base, s["selected"]) for m in rows)
        if s["peer_error"]:
            lines.append(f"\n{s['peer_error']}")
        lines.append("")
    for error in out["errors"]:
        lines.append(f"- {error}")
    lines.append(END)
    return "\n".join(lines)


def render_speed(sp: dict[str, float]) -> str:
    """The generated speed section (`make eval-forecast-speed` rewrites it alone)."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return "\n".join(
        [
            SPEED_BEGIN,
            f"_Generated by `make eval-forecast-speed` / `make eval-forecast` / `make bench` on {when}._",
            "",
            f"**Speed** (one thread), {int(sp['machines']):,} machines x {int(sp['horizon_steps'])} steps (24 h at "
            f"15 min) with P10/P50/P90: the forecaster's per-machine step, the seasonal AR fitted on three weeks "
            f"(with its 56 calibration origins) and forecast, **{sp['seasonal_ar_fit_predict_cpu_s']:.2f} s of CPU** "
            f"({sp['seasonal_ar_fit_predict_s']:.2f} s wall); the trained global model's forecast "
            f"**{sp['gbm_predict_cpu_s']:.2f} s of CPU** ({sp['gbm_predict_s']:.2f} s wall); training the global "
            f"model {sp['gbm_train_cpu_s']:.1f} s CPU ({sp['gbm_train_s']:.1f} s wall). Load average "
            f"{sp['load_average']:g} on {int(sp['cores'])} cores at the end: wall time includes waiting for a core.",
            SPEED_END,
        ]
    )


def _splice(text: str, begin: str, end: str, section: str) -> str:
    """Replace the section between `begin` and `end` (or append it)."""
    if begin in text and end in text:
        return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.DOTALL)
    return text.rstrip("\n") + "\n\n" + section + "\n"


def write_doc(out: dict[str, Any], path: Path = DOC) -> None:
    """Replace the generated sections of docs/forecasting.md that `out` has (accuracy, speed), or append them."""
    text = path.read_text() if path.exists() else "# Forecasting\n\n"
    if "series" in out:
        text = _splice(text, BEGIN, END, render(out))
    if "speed" in out:
        text = _splice(text, SPEED_BEGIN, SPEED_END, render_speed(out["speed"]))
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.bench.forecasting [--quick] [--speed]`."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.forecasting", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="7 folds and 2,000 machines instead of 28 and 10,000")
    parser.add_argument("--speed", action="store_true", help="only the speed (its section of the doc)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.speed:
        sp = speed(2_000 if args.quick else 10_000)
        write_doc({"speed": sp})
        print(render_speed(sp))
        return 0
    out = run_phase(quick=args.quick)
    print(render(out))
    print(render_speed(out["speed"]))
    return 0 if not out["errors"] and all(math.isfinite(m["mase"]) for s in out["series"] for m in s["models"]) else 1


if __name__ == "__main__":
    sys.exit(main())
