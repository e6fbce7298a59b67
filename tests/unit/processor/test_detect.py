"""`gridwatch detect`: the processor's scorer on a CSV, one reading at a time, and its errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from gridwatch.cli import app
from gridwatch.common.schema import TYPE_CODE
from gridwatch.common.scoring import KINDS, Scorer
from gridwatch.processor.detect import CsvError, default_config, parse_timestamp, read_csv
from typer.testing import CliRunner


def _series(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = 1.4e9 + np.cumsum(rng.choice([300.0, 300.0, 300.0, 600.0], n))  # 5-minute cadence with gaps, 2014
    v = 50 + 10 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 1, n)
    v[n // 2 : n // 2 + 5] += 40  # an anomaly
    v[n // 3 : n // 3 + 30] = 0.0  # an idle stretch
    return ts, np.round(v, 3)


def _write(path: Path, ts: np.ndarray, v: np.ndarray) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for t, x in zip(ts, v, strict=True):
            w.writerow([np.datetime64(int(t), "s").astype(str).replace("T", " "), repr(float(x))])


@pytest.mark.slow
def test_cli_and_processor_batches_give_the_same_scores(tmp_path: Path) -> None:
    sensors = 4
    series = [_series(1500, seed) for seed in range(sensors)]
    # the processor's way: batches of many sensors, several readings of a sensor per batch, shuffled
    scorer = Scorer(default_config())
    idx, _ = scorer.table.lookup([f"s{k}" for k in range(sensors)], ["m"] * sensors, [TYPE_CODE["power"]] * sensors)
    sensor = np.concatenate([np.full(1500, idx[k]) for k in range(sensors)])
    ts = np.concatenate([s[0] for s in series])
    value = np.concatenate([s[1] for s in series])
    rng = np.random.default_rng(1)
    timeline = np.argsort(np.tile(np.arange(1500), sensors), kind="stable")
    score = np.zeros(ts.size)
    prob = np.zeros(ts.size)
    kind = np.zeros(ts.size, dtype=np.int64)
    start = 0
    while start < ts.size:
        size = int(rng.integers(1, 40))
        rows = timeline[start : start + size]
        rows = rows[rng.permutation(rows.size)]
        r = scorer.score(sensor[rows], ts[rows], value[rows])
        assert r.skipped == 0
        score[rows[r.source]] = r.score
        prob[rows[r.source]] = r.probability
        kind[rows[r.source]] = r.kind
        start += size
    runner = CliRunner()
    for k in range(sensors):
        src, dst = tmp_path / f"in{k}.csv", tmp_path / f"out{k}.csv"
        _write(src, *series[k])
        res = runner.invoke(app, ["detect", "--csv", str(src), "--out", str(dst)])
        assert res.exit_code == 0, res.output
        with dst.open() as fh:
            rows_out = list(csv.DictReader(fh))
        assert list(rows_out[0]) == ["timestamp", "value", "anomaly_score", "anomaly", "failure_probability", "kind"]
        mine = slice(k * 1500, (k + 1) * 1500)
        got = np.array([float(r["anomaly_score"]) for r in rows_out])
        assert np.allclose(got, score[mine], atol=1e-6)
        assert np.allclose([float(r["failure_probability"]) for r in rows_out], prob[mine], atol=1e-6)
        assert [r["kind"] for r in rows_out] == [KINDS[c] for c in kind[mine]]
        assert got.max() > 0  # the run scored something


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("time,value\n2020-01-01,1\n", "line 1: no column 'timestamp'"),
        ("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,x\n", "line 3: cannot parse value 'x'"),
        ("timestamp,value\n2020-01-01 00:00:00,1\nyesterday,2\n", "line 3: cannot parse timestamp 'yesterday'"),
        ("timestamp,value\n2020-01-01 00:05:00,1\n\n2020-01-01 00:00:00,2\n", "line 4: timestamp"),
        ("timestamp,value\n2020-01-01 00:00:00\n", "line 2: 1 fields"),
        ("timestamp,value\n2020-01-01 00:00:00,nan\n", "line 2: value and timestamp must be finite"),
    ],
)
def test_bad_csvs_get_an_error_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(text)
    with src.open() as fh, pytest.raises(CsvError, match=message):
        list(read_csv(fh))
    res = CliRunner().invoke(app, ["detect", "--csv", str(src), "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and message in res.output


def test_timestamps_old_naive_zoned_and_epoch() -> None:
    assert parse_timestamp("1970-01-01 00:00:10") == 10.0
    assert parse_timestamp("2014-02-14 14:30:00") == 1392388200.0
    assert parse_timestamp("2014-02-14T15:30:00+01:00") == 1392388200.0
    assert parse_timestamp("2014-02-14T14:30:00Z") == 1392388200.0
    assert parse_timestamp("1392388200.5") == 1392388200.5
    assert parse_timestamp("1901-06-01 00:00:00") < 0


def test_custom_columns_and_sensor_type(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("site,when,temp\na,2020-01-01T00:00:00,20.5\na,2020-01-01T00:00:01,20.6\n")
    dst = tmp_path / "o.csv"
    args = ["detect", "--csv", str(src), "--out", str(dst), "--timestamp-col", "when", "--value-col", "temp"]
    res = CliRunner().invoke(app, [*args, "--sensor-type", "temperature"])
    assert res.exit_code == 0, res.output
    assert dst.read_text().splitlines()[1].startswith("2020-01-01T00:00:00,20.5,")
    res = CliRunner().invoke(app, [*args, "--sensor-type", "banana"])
    assert res.exit_code == 2 and "unknown sensor type 'banana'" in res.output
