"""Every suggestion from plain inputs (machine series, sensor health, tariff, settings): no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gridwatch.optimizer import rules
from gridwatch.optimizer.rules import MachineSeries, SensorHealth, Suggestion
from gridwatch.optimizer.settings import OptimizerSettings
from gridwatch.optimizer.tariff import Tariff


@dataclass(frozen=True)
class Inputs:
    """What the rules look at, gathered by the caller (the API reads them from Redis and PostgreSQL)."""

    machines: Sequence[MachineSeries]
    health: Sequence[SensorHealth]
    now: float


@dataclass(frozen=True)
class Result:
    """Every suggestion, highest priority first, and what it was computed over."""

    generated_at: float
    currency: str
    window_hours: float
    items: list[Suggestion]


def suggest(inputs: Inputs, settings: OptimizerSettings, tariff: Tariff) -> Result:
    """Run the four rules and rank their suggestions (priority, then id for a stable order)."""
    s, machines = settings, inputs.machines
    found = [
        *rules.peak_shifting(machines, tariff, s),
        *rules.maintenance(inputs.health, rules.energy_cost(machines, tariff), s, tariff.currency),
        *rules.efficiency(machines, tariff, s),
        *rules.operational(machines, tariff, s),
    ]
    found.sort(key=lambda x: (-x.priority, x.id))
    return Result(generated_at=inputs.now, currency=tariff.currency, window_hours=s.window_hours, items=found)
