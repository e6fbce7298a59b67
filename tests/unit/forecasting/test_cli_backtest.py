"""`gridwatch forecast backtest`: the JSON object, the table, and errors for bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gridwatch.cli import app
from typer.testing import CliRunner

from tests.unit.common.forecast.helpers import weekly_panel


def _csv(tmp_path: Path, weeks: int) -> Path:
    p = weekly_panel(series=1, weeks=weeks, step_s=1800.0)
    lines = ["when,load"]
    for k, v in enumerate(p.values[0]):
        lines.append(f"{datetime.fromtimestamp(p.start + k * p.step_s, UTC).isoformat()},{v:.4f}")
    path = tmp_path / "load.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_names_the_yardstick_and_the_selection(tmp_path: Path) -> None:
    path = _csv(tmp_path, weeks=2)  # too short for the gbm: it is skipped, the rest run
    args = ["forecast", "backtest", "--csv", str(path), "--timestamp-col", "when", "--value-col", "load"]
    result = CliRunner().invoke(app, [*args, "--step", "30min", "--horizon", "48", "--folds", "2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    names = [m["name"] for m in out["models"]]
    assert "seasonal_naive" in names
    assert out["selected"] in names
    assert out["selected"] == min(out["models"], key=lambda m: m["mase"])["name"]
    assert set(out["models"][0]) == {"name", "mase", "smape", "pinball", "coverage_p10_p90"}
    assert "gbm" in out["skipped"]


def test_table_marks_the_selected_model(tmp_path: Path) -> None:
    path = _csv(tmp_path, weeks=2)
    result = CliRunner().invoke(
        app, ["forecast", "backtest", "--csv", str(path), "--timestamp-col", "when", "--value-col", "load"]
    )
    assert result.exit_code == 0, result.output
    assert "seasonal_naive" in result.stdout
    assert " *" in result.stdout
    assert "selected:" in result.stdout


def test_bad_csv_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n0,1\n1800,2\n3600,oops\n")
    result = CliRunner().invoke(app, ["forecast", "backtest", "--csv", str(path)])
    assert result.exit_code == 2
    assert "line 4" in result.stderr
    assert "oops" in result.stderr
