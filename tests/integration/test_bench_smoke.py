"""`make bench-smoke`: the benchmark harness at tiny sizes on the real Kafka, Redis and PostgreSQL, so it never rots.

It checks that every phase ran and produced well-formed, consistent results; it asserts no timings.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench import report, suite
from tests.bench.stack import BenchStack
from tests.infra.services import Kafka, Postgres, Redis


def test_bench_smoke_produces_a_complete_report(
    kafka: Kafka, redis_server: Redis, postgres: Postgres, tmp_path: Path
) -> None:
    sizes = suite.SMOKE
    stack = BenchStack(tmp_path / "work", kafka=kafka, redis_server=redis_server, postgres=postgres).start()
    results = suite.run(sizes, stack, tmp_path / "work")
    md, raw = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    report.write(results, md, raw)

    assert results.errors == []
    doc = json.loads(raw.read_text())
    assert doc["machine"]["cores"] >= 1 and doc["mode"] == "smoke"

    ((sensors, ticks),) = sizes.throughput
    (drain,) = doc["throughput"]
    assert drain["measured_readings"] == drain["readings"] == sensors * ticks
    assert drain["sensors_in_redis"] == sensors
    assert drain["readings_per_s"] > 0 and drain["cpu_s_per_million"] > 0 and drain["peak_rss_mb"] > 0
    # the raw consume + decode + discard of the same topic read every reading of it, once
    ceiling = drain["ceiling"]
    assert ceiling["readings"] == sensors * ticks and ceiling["messages"] == doc["prefill"][0]["messages"]
    assert ceiling["readings_per_cpu_s"] > 0 and drain["share_of_ceiling"] > 0
    assert "raw ceiling per CPU-second" in md.read_text()

    # the writer stored every reading of the data set once: as many as the processor drained, no repeat copies
    (hist,) = doc["history"]
    assert hist["sensors"] == sensors and hist["readings"] == sensors * ticks == drain["measured_readings"]
    assert hist["sensors_in_db"] == sensors and hist["messages"] > 0
    assert hist["rows"] == sensors  # 30 one-second ticks from the start of a minute: one row per sensor
    assert hist["row_writes"] >= hist["rows"]
    assert hist["readings_per_s"] > 0 and hist["cpu_s_per_million"] > 0 and hist["postgres_cpu_seconds"] > 0
    assert hist["processor_readings_per_s"] == drain["readings_per_s"] and hist["ratio_to_processor"] > 0

    seed = doc["seed_baseline"]
    assert seed["readings"] == seed["predict_calls"] == sizes.seed_readings

    assert [s["replicas"] for s in doc["scale"]] == list(sizes.replicas)
    assert all(s["readings"] == sensors * ticks and s["sensors_in_redis"] == sensors for s in doc["scale"])

    (lat,) = doc["latency"]
    assert lat["achieved_rate"] > 0
    assert lat["redis"]["n"] > 0 and lat["websocket"]["n"] > 0
    assert 0 < lat["redis"]["p50_ms"] <= lat["redis"]["p99_ms"] <= lat["redis"]["max_ms"]

    assert {a["endpoint"] for a in doc["api"]} == {"/api/dashboard/stats", "/api/sensors?limit=100"}
    assert all(a["requests"] > 0 and a["errors"] == 0 for a in doc["api"])

    ws = doc["websocket"]
    assert ws["connected"] == ws["clients"] == sizes.ws_clients and ws["dropped"] == 0
    assert ws["delay"]["n"] == ws["messages"] >= ws["updates"] > 0

    text = md.read_text()
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1
    for heading in (
        "Processor throughput",
        "History writer",
        "seed design",
        "End-to-end latency",
        "API latency",
        "fan-out",
        "Scale",
    ):
        assert heading in text
    assert "PASS" in text or "MISS" in text

    # a second write keeps hand-written text outside the markers
    md.write_text("# Benchmarks\n\nnotes before\n\n" + text[text.index(report.BEGIN) :] + "\nnotes after\n")
    report.write(results, md, raw)
    again = md.read_text()
    assert "notes before" in again and "notes after" in again and again.count(report.BEGIN) == 1
