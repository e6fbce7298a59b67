"""Simulated batteries and flexible loads that obey rebalancer commands, with efficiency and response delay."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import msgspec

from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.schema import SCHEMA_VERSION, Command, CommandKind, ReadingBatch, ReadingSource, SensorType

ASSET_GATEWAY = "assets"  # the gateway the simulated assets' meters report through


@dataclass
class BatteryModel:
    """A battery behind an inverter: follows its setpoint with a first-order lag (`response_s`), within its power
    limits; its own BMS cuts discharge at soc_min and charge at soc_max. `violations` counts steps where the SOC
    left the band anyway (it never should)."""

    cfg: BatteryConfig
    soc_frac: float
    response_s: float = 20.0
    setpoint_kw: float = 0.0
    valid_until_ts: float = 0.0
    p_kw: float = 0.0  # > 0 discharging (AC)
    bms_cutoffs: int = 0
    violations: int = 0

    def command(self, cmd: Command) -> None:
        """Take a setpoint."""
        if cmd.kind is CommandKind.BATTERY_SETPOINT and math.isfinite(cmd.setpoint_kw):
            self.setpoint_kw, self.valid_until_ts = cmd.setpoint_kw, cmd.valid_until_ts

    def step(self, now: float, dt_s: float) -> float:
        """Advance `dt_s`; returns the AC power over the step (> 0 discharging)."""
        cfg = self.cfg
        target = self.setpoint_kw if now < self.valid_until_ts else 0.0  # an expired command means idle
        alpha = 1.0 - math.exp(-dt_s / self.response_s) if self.response_s > 0 else 1.0
        p = self.p_kw + (target - self.p_kw) * alpha
        p = min(max(p, -cfg.charge_kw), cfg.discharge_kw)
        eff = cfg.one_way_efficiency
        cap = cfg.capacity_kwh
        h = dt_s / 3600.0
        if p > 0:
            room = max(self.soc_frac - cfg.soc_min, 0.0) * cap * eff / h
            if p > room:
                p, self.bms_cutoffs = room, self.bms_cutoffs + 1
            self.soc_frac -= p * h / eff / cap
        elif p < 0:
            room = max(cfg.soc_max - self.soc_frac, 0.0) * cap / (eff * h)
            if -p > room:
                p, self.bms_cutoffs = -room, self.bms_cutoffs + 1
            self.soc_frac += -p * h * eff / cap
        if self.soc_frac < cfg.soc_min - 1e-9 or self.soc_frac > cfg.soc_max + 1e-9:
            self.violations += 1
        self.p_kw = p
        return p

    def state(self, now: float) -> bytes:
        """JSON of the state the storage optimizer and the rebalancer read."""
        return msgspec.json.encode({"soc_frac": self.soc_frac, "p_kw": self.p_kw, "ts": now})


@dataclass
class FlexibleLoadModel:
    """A deferrable load: it starts when its window opens and runs `run_hours` a day at `power_kw`; a limit
    defers it (a run younger than `min_run_minutes` finishes that first), and it ignores limits once the window's
    rest is only just long enough to finish (it must). A protected load ignores limits."""

    cfg: FlexibleLoadConfig
    zone: ZoneInfo
    limit_kw: float | None = None
    limit_until_ts: float = 0.0
    running: bool = False
    run_s: float = 0.0
    done_s: float = 0.0
    day: int = -1
    forced_s: float = 0.0
    curtailed_while_protected: int = 0
    history: list[float] = field(default_factory=list)

    def command(self, cmd: Command) -> None:
        """Take a limit or a release."""
        if cmd.kind is CommandKind.LOAD_LIMIT:
            self.limit_kw, self.limit_until_ts = cmd.setpoint_kw, cmd.valid_until_ts
        elif cmd.kind is CommandKind.LOAD_RELEASE:
            self.limit_kw = None

    def _window_left_s(self, local: dt.datetime) -> float:
        hour = local.hour + local.minute / 60 + local.second / 3600
        start, end = self.cfg.window_start_hour, self.cfg.window_end_hour
        if start <= end:
            return (end - hour) * 3600 if start <= hour < end else -1.0
        if hour >= start:
            return (24 - hour + end) * 3600
        return (end - hour) * 3600 if hour < end else -1.0

    def step(self, now: float, dt_s: float) -> float:
        """Advance `dt_s`; returns the power drawn over the step."""
        local = dt.datetime.fromtimestamp(now, self.zone)
        if local.toordinal() != self.day:
            self.day, self.done_s = local.toordinal(), 0.0
        if self.limit_kw is not None and now >= self.limit_until_ts:
            self.limit_kw = None  # an expired limit lapses
        need = self.cfg.run_hours * 3600 - self.done_s
        left = self._window_left_s(local)
        wants = need > 0 and left > 0
        must = wants and left <= need + 1e-6
        limited = self.limit_kw is not None and self.limit_kw < self.cfg.power_kw
        if limited and self.cfg.protected:
            self.curtailed_while_protected += 1
        young = self.running and self.run_s < self.cfg.min_run_minutes * 60
        run = wants and (not limited or self.cfg.protected or young or must)
        if run and must and limited and not young:
            self.forced_s += dt_s
        if run:
            self.run_s = self.run_s + dt_s if self.running else dt_s
            self.done_s += dt_s
        else:
            self.run_s = 0.0
        self.running = run
        p = self.cfg.power_kw if run else 0.0
        self.history.append(p)
        return p

    @property
    def p_kw(self) -> float:
        """Power drawn now."""
        return self.cfg.power_kw if self.running else 0.0

    def state(self, now: float) -> bytes:
        """JSON of the state the rebalancer reads."""
        return msgspec.json.encode(
            {
                "p_kw": self.cfg.power_kw if self.running else 0.0,
                "running": self.running,
                "run_s": self.run_s,
                "limit_kw": self.limit_kw,
                "ts": now,
            }
        )


def meter_batch(
    site: str, seq: int, ts: float, batteries: list[BatteryModel], loads: list[FlexibleLoadModel]
) -> ReadingBatch:
    """The assets' power meters as one reading batch: `<name>-power` in kW drawn from the site's bus, so a
    charging battery adds to the site's power, a discharging one subtracts, and a deferred load reads 0."""
    names = [b.cfg.name for b in batteries] + [f.cfg.name for f in loads]
    values = [0.0 - b.p_kw for b in batteries] + [f.p_kw for f in loads]
    return ReadingBatch(
        schema_version=SCHEMA_VERSION,
        site=site,
        gateway=ASSET_GATEWAY,
        seq=seq,
        sensor_ids=[f"{n}-power" for n in names],
        machines=names,
        types=[SensorType.POWER] * len(names),
        ts=[ts] * len(names),
        values=[float(v) for v in values],
        fault_index=[],
        fault_kind=[],
        source=ReadingSource.SIMULATED,
    )
