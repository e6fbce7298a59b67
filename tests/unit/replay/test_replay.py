"""Replay: both CSV layouts, timestamp rebasing and pacing, retries after 429."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import httpx
import msgspec
import pytest
from gridwatch.replay.csvfile import CsvError, parse_time, rows
from gridwatch.replay.runner import parse_speed, replay


def test_long_and_wide_layouts(tmp_path: Path) -> None:
    wide = tmp_path / "w.csv"
    wide.write_text("timestamp,a,b\n2024-01-01 00:00:00,1,\n2024-01-01 00:01:00,2,3\n")
    assert list(rows(wide)) == [
        (1704067200.0, "a", 1.0),
        (1704067200.0, "b", None),
        (1704067260.0, "a", 2.0),
        (1704067260.0, "b", 3.0),
    ]
    long = tmp_path / "l.csv"
    long.write_text("timestamp,sensor,value\n1704067200,x,5\n1704067200000,y,6\n")
    assert list(rows(long)) == [(1704067200.0, "x", 5.0), (1704067200.0, "y", 6.0)]
    nab = tmp_path / "machine_temp.csv"
    nab.write_text("timestamp,value\n2014-01-01 00:00:00,1\n")
    assert next(iter(rows(nab)))[1] == "machine_temp"
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,a\n2024-01-01,hot\n")
    with pytest.raises(CsvError, match="line 2"):
        list(rows(bad))
    with pytest.raises(CsvError, match="ISO 8601"):
        parse_time("soon", 3)
    assert parse_speed("60x") == 60.0


def test_rebases_paces_and_retries(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("timestamp,a\n" + "".join(f"{1704067200 + 60 * i},{i}\n" for i in range(10)))
    bodies: list[dict[str, object]] = []
    answers = iter([429] + [202] * 20)

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "1"})
        assert request.headers["X-Gridwatch-Source"] == "replay"  # the sensors show replay as their source
        bodies.append(msgspec.msgpack.decode(request.content))
        return httpx.Response(202, json={"accepted": 4, "rejected": 0})

    slept: list[float] = []
    before = time.time()
    out = replay(
        path, "http://ingest", "t", speed=60.0, batch_rows=4,
        client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=slept.append,
    )  # fmt: skip
    assert out.readings == 10 and out.requests == 3 and out.retries == 1
    stamps = [t for b in bodies for t in b["ts"]]  # type: ignore[attr-defined]
    assert [round((b - a) / 1000, 3) for a, b in itertools.pairwise(stamps)] == [1.0] * 9
    assert stamps[0] / 1000 == pytest.approx(before, abs=2)
    assert 1.0 in slept and any(s > 2 for s in slept), slept  # paced: a minute of recording per second
