"""Backtest results as a text table or the JSON object of `gridwatch forecast backtest --json`."""

from __future__ import annotations

import json

from gridwatch.common.forecast.backtest import YARDSTICK, BacktestResult


def table(result: BacktestResult, title: str = "") -> str:
    """A fixed-width table: one row per model, the selected one marked, the yardstick's improvement."""
    base = next((s for s in result.scores if s.name == YARDSTICK), None)
    lines = []
    if title:
        lines.append(title)
    lines.append(f"{result.folds} folds x {result.horizon} steps, rolling origin")
    lines.append(f"{'model':<22}{'MASE':>8}{'vs SN':>8}{'sMAPE %':>9}{'pinball':>9}{'P10-P90':>9}")
    for s in sorted(result.scores, key=lambda s: s.mase):
        gain = f"{100.0 * (1.0 - s.mase / base.mase):+.0f}%" if base and base.mase > 0 else "-"
        mark = " *" if s.name == result.selected else ""
        lines.append(
            f"{s.name + mark:<22}{s.mase:>8.3f}{gain:>8}{s.smape:>9.2f}{s.pinball:>9.3f}"
            f"{100.0 * s.coverage_p10_p90:>8.1f}%"
        )
    for name, why in result.skipped.items():
        lines.append(f"{name:<22} skipped: {why}")
    lines.append(f"selected: {result.selected} (lowest MASE; 'vs SN' is the gain over weekly seasonal naive)")
    return "\n".join(lines)


def as_json(result: BacktestResult) -> str:
    """One JSON object: selected, models (name, mase, smape, pinball, coverage_p10_p90), horizon, folds, skipped."""
    return json.dumps(result.as_dict())
