"""Run EMHASS's day-ahead battery optimization on the storage bench's inputs (JSON on stdin, JSON on stdout).

Runs only inside this folder's own uv project (`uv run --project tests/bench/emhass`), never in the workspace.
Input: {"step_min": 30, "battery": {...}, "soc_init": 0.6, "capacity_cost_per_kw": 0, "days": [{"start": ISO,
"load_kw": [...], "import_price": [...], "export_price": [...]}]}; one plan per day, in order, on one Optimization
object (EMHASS's own problem cache, as in its day-ahead use); each day starts at the SOC the previous plan ends at.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import sys
import time
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
from emhass import utils  # type: ignore[import-untyped,import-not-found,unused-ignore]
from emhass.optimization import Optimization  # type: ignore[import-untyped,import-not-found,unused-ignore]


def configure(spec: dict[str, Any], logger: logging.Logger) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """EMHASS's defaults (config_defaults.json), with the battery on, PV and deferrable loads off."""
    root = pathlib.Path(utils.__file__).parent
    emhass_conf = {"data_path": root / "data", "root_path": root, "associations_path": root / "data/associations.csv"}
    config = asyncio.run(utils.build_config(emhass_conf, logger, str(root / "data/config_defaults.json")))
    batt = spec["battery"]
    config.update(
        {
            "optimization_time_step": spec["step_min"],
            "time_zone": "UTC",
            "set_use_battery": True,
            "set_use_pv": False,
            "number_of_deferrable_loads": 0,
            "nominal_power_of_deferrable_loads": [],
            "minimum_power_of_deferrable_loads": [],
            "operating_hours_of_each_deferrable_load": [],
            "start_timesteps_of_each_deferrable_load": [],
            "end_timesteps_of_each_deferrable_load": [],
            "treat_deferrable_load_as_semi_cont": [],
            "set_deferrable_load_single_constant": [],
            "set_deferrable_startup_penalty": [],
            "deferrable_load_max_cost": [],
            "set_deferrable_max_startups": [],
            "cost_forecast_per_deferrable_load": [],
            "is_electric_load": [],
            "battery_nominal_energy_capacity": batt["capacity_kwh"] * 1000.0,
            "battery_charge_power_max": batt["charge_max_kw"] * 1000.0,
            "battery_discharge_power_max": batt["discharge_max_kw"] * 1000.0,
            "battery_charge_efficiency": batt["charge_efficiency"],
            "battery_discharge_efficiency": batt["discharge_efficiency"],
            "battery_minimum_state_of_charge": batt["soc_min_frac"],
            "battery_maximum_state_of_charge": batt["soc_max_frac"],
            "battery_target_state_of_charge": batt["soc_target_frac"],
            "capacity_cost_per_kw": spec.get("capacity_cost_per_kw", 0.0),
        }
    )
    params = asyncio.run(utils.build_params(emhass_conf, {}, config, logger))
    retrieve, optim, plant = utils.get_yaml_parse(params, logger)
    optim["number_of_deferrable_loads"] = 0
    return retrieve, optim, plant


def main() -> None:
    spec = json.load(sys.stdin)
    # HiGHS prints banners on fd 1 from C: send everything but our JSON to stderr
    result_fd = os.dup(1)
    os.dup2(2, 1)
    logger = logging.getLogger("emhass-bench")
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    retrieve, optim, plant = configure(spec, logger)
    root = pathlib.Path(utils.__file__).parent
    emhass_conf = {"data_path": root / "data", "root_path": root}
    opt = Optimization(retrieve, optim, plant, "unit_load_cost", "unit_prod_price", "profit", emhass_conf, logger)
    soc = float(spec["soc_init"])
    peak_kw = 0.0
    out = []
    for day in spec["days"]:
        n = len(day["load_kw"])
        index = pd.date_range(day["start"], periods=n, freq=f"{spec['step_min']}min", tz="UTC")
        data = pd.DataFrame(
            {"unit_load_cost": day["import_price"], "unit_prod_price": day["export_price"]}, index=index
        )
        p_load = np.asarray(day["load_kw"], dtype=float) * 1000.0
        started, cpu_started = time.perf_counter(), time.process_time()
        res = opt.perform_optimization(
            data,
            np.zeros(n),
            p_load,
            data["unit_load_cost"].to_numpy(),
            data["unit_prod_price"].to_numpy(),
            soc_init=soc,
            soc_final=spec["battery"]["soc_target_frac"],
            current_period_peak=peak_kw * 1000.0 if spec.get("capacity_cost_per_kw", 0.0) > 0 else None,
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        status = str(opt.optim_status)
        record: dict[str, Any] = {"status": status, "solve_time_s": seconds, "cpu_s": cpu, "columns": list(res.columns)}
        if "P_batt" in res.columns:
            record["p_batt_kw"] = (res["P_batt"].to_numpy() / 1000.0).tolist()
            record["p_grid_kw"] = (res["P_grid"].to_numpy() / 1000.0).tolist()
            record["soc_frac"] = res["SOC_opt"].to_numpy().tolist()
            # the next day's plan starts where this one ends; the billing window's peak so far carries too
            soc = float(record["soc_frac"][-1])
            peak_kw = max(peak_kw, float(res["P_grid_pos"].max()) / 1000.0)
        out.append(record)
    with os.fdopen(result_fd, "w") as result:
        json.dump({"emhass_version": _version(), "days": out}, result)


def _version() -> str:
    from importlib.metadata import version

    return version("emhass")


if __name__ == "__main__":
    main()
