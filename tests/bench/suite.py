"""The benchmark run: sizes for `--full` and `--smoke`, the phases in order, and the raw results."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.bench import (
    apiload,
    fanout,
    forecasting,
    history,
    ingest,
    latency,
    profile,
    seed_baseline,
    storage,
    throughput,
)
from tests.bench.prefill import Prefilled, prefill
from tests.bench.stack import BenchStack

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Sizes:
    """How big each phase is."""

    name: str
    throughput: tuple[tuple[int, int], ...]  # (sensors, ticks) per pre-filled topic
    compare_sensors: int  # the data set the seed baseline and the API phase reuse
    scale_sensors: int  # the data set the scale phase drains again with 1, 2, ... replicas
    seed_readings: int
    latency_rates: tuple[int, ...]
    latency_warmup_s: float
    latency_window_s: float
    api_rate: float
    api_seconds: float
    ws_clients: int
    ws_rate: int
    ws_seconds: float
    ws_ramp_s: float
    replicas: tuple[int, ...]
    profile: bool
    repeats: int  # drains per throughput size; the best is reported, every run is kept in the JSON


FULL = Sizes(
    name="full",
    throughput=((1_000, 300), (10_000, 100), (100_000, 25)),
    compare_sensors=10_000,
    scale_sensors=100_000,
    seed_readings=2_000,
    latency_rates=(10_000, 20_000, 50_000),
    latency_warmup_s=10.0,
    latency_window_s=20.0,
    api_rate=200.0,
    api_seconds=20.0,
    ws_clients=500,
    ws_rate=5_000,
    ws_seconds=20.0,
    ws_ramp_s=5.0,
    replicas=(1, 2),
    profile=True,
    repeats=2,
)
SMOKE = Sizes(
    name="smoke",
    throughput=((300, 30),),
    compare_sensors=300,
    scale_sensors=300,
    seed_readings=40,
    latency_rates=(1_500,),
    latency_warmup_s=3.0,
    latency_window_s=4.0,
    api_rate=40.0,
    api_seconds=2.0,
    ws_clients=10,
    ws_rate=1_000,
    ws_seconds=3.0,
    ws_ramp_s=1.0,
    replicas=(1, 2),
    profile=False,
    repeats=1,
)


@dataclass
class Results:
    """Everything one run measured, as written to the JSON file."""

    mode: str
    started: str
    seconds: float = 0.0
    prefill: list[dict[str, Any]] = field(default_factory=list)
    throughput: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    seed_baseline: dict[str, Any] = field(default_factory=dict)
    api: list[dict[str, Any]] = field(default_factory=list)
    scale: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    websocket: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, float] = field(default_factory=dict)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    storage: dict[str, Any] = field(default_factory=dict)
    forecasting: dict[str, Any] = field(default_factory=dict)
    ingest: list[dict[str, Any]] = field(default_factory=list)
    ingest_latency: dict[str, Any] = field(default_factory=dict)


def _phase(results: Results, name: str, fn: Callable[[], None]) -> None:
    """Run one phase; a failure is recorded and the run goes on with the next phase."""
    log.info("bench: %s", name)
    started, load = time.monotonic(), os.getloadavg()[0]
    try:
        fn()
    except Exception as exc:
        log.exception("bench phase %s failed", name)
        results.errors.append(f"{name}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    seconds = time.monotonic() - started
    results.phases[name] = {"seconds": round(seconds, 1), "load_start": load, "load_end": os.getloadavg()[0]}
    log.info("bench: %s done in %.1fs", name, seconds)


def run(sizes: Sizes, stack: BenchStack, workdir: Path) -> Results:
    """Run every phase on a started stack."""
    results = Results(mode=sizes.name, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    t0 = time.monotonic()
    filled: dict[int, Prefilled] = {}
    tag = time.strftime("%H%M%S")
    enriched_from: dict[int, history.Offsets] = {}  # where each data set's last drain began its enriched output

    def do_prefill() -> None:
        for sensors, ticks in sizes.throughput:
            seed = sizes.seed_readings if sensors == sizes.compare_sensors else 0
            f = prefill(stack.kafka.bootstrap, f"tp{sensors}-{tag}", sensors, ticks, seed_readings=seed)
            filled[sensors] = f
            results.prefill.append(asdict(f))

    def do_throughput() -> None:
        for sensors in sorted(filled):
            runs: list[dict[str, Any]] = []
            for _ in range(sizes.repeats):
                topic = history.enriched_topic(filled[sensors].site)
                enriched_from[sensors] = history.end_offsets(stack.kafka.bootstrap, topic)
                runs.append(asdict(throughput.drain(stack, filled[sensors], workdir)))
            best = max(runs, key=lambda r: float(r["readings_per_s"]))
            raw = throughput.ceiling(stack, filled[sensors], workdir)
            share = best["readings_per_cpu_s"] / raw.readings_per_cpu_s if raw.readings_per_cpu_s else 0.0
            results.throughput.append(
                {**best, "runs": runs, "ceiling": asdict(raw), "share_of_ceiling": round(share, 3)}
            )

    def do_history() -> None:
        processor = {int(r["sensors"]): r for r in results.throughput}
        for sensors in sorted(s for s in enriched_from if s in processor):  # data sets the processor drained
            start = enriched_from[sensors]
            runs = [asdict(history.drain(stack, filled[sensors], workdir, start)) for _ in range(sizes.repeats)]
            best = max(runs, key=lambda r: float(r["readings_per_s"]))
            proc = processor[sensors]
            proc_rate = float(proc["readings_per_s"])
            results.history.append(
                {
                    **best,
                    "processor_readings_per_s": proc_rate,
                    "processor_cpu_s_per_million": float(proc["cpu_s_per_million"]),
                    "ratio_to_processor": round(best["readings_per_s"] / proc_rate, 4) if proc_rate else 0.0,
                    "runs": runs,
                }
            )

    def do_seed() -> None:
        results.seed_baseline = asdict(seed_baseline.run(stack, filled[sizes.compare_sensors], workdir))

    def do_api() -> None:
        compare = filled[sizes.compare_sensors]  # its drain above left every sensor's state in Redis
        loads = apiload.measure(stack, compare.site, compare.sensors, workdir, sizes.api_rate, sizes.api_seconds)
        results.api = [asdict(x) for x in loads]

    def do_scale() -> None:
        data = filled[sizes.scale_sensors]
        for replicas in sizes.replicas:
            cpus = [stack.measured_cpu, stack.other_cpu][:replicas] if replicas <= 2 else None
            results.scale.append(asdict(throughput.drain(stack, data, workdir, replicas=replicas, cpus=cpus)))

    def do_latency() -> None:
        for rate in sizes.latency_rates:
            m = latency.measure(stack, rate, workdir, sizes.latency_warmup_s, sizes.latency_window_s)
            results.latency.append(asdict(m))

    def do_ws() -> None:
        m = fanout.measure(stack, sizes.ws_clients, sizes.ws_rate, sizes.ws_seconds, workdir, sizes.ws_ramp_s)
        results.websocket = asdict(m)

    def do_profile() -> None:
        biggest = filled[max(filled)]
        raw = workdir / "profile-processor.txt"
        throughput.drain(stack, biggest, workdir, profile_to=raw)
        results.profile = {"sensors": float(biggest.sensors), **profile.stages(raw)}

    _phase(results, "prefill", do_prefill)
    _phase(results, "throughput", do_throughput)
    _phase(results, "history", do_history)
    _phase(results, "seed baseline", do_seed)
    _phase(results, "api", do_api)
    _phase(results, "scale", do_scale)
    _phase(results, "latency", do_latency)
    _phase(results, "websocket fan-out", do_ws)
    if sizes.profile and profile.available():
        _phase(results, "profile", do_profile)
    if sizes.name == "full":  # device ingest over HTTP and MQTT (needs Mosquitto), beside ThingsBoard's figure
        _phase(
            results,
            "ingest",
            lambda: results.ingest.extend(
                map(asdict, ingest.measure(stack, workdir, True, latency=results.ingest_latency))
            ),
        )
    if sizes.name == "full":  # needs no stack; its own report is docs/storage.md
        _phase(results, "storage", lambda: results.storage.update(storage.run_phase(workdir)))
    if sizes.name == "full":  # needs no stack; its own report is docs/forecasting.md
        _phase(results, "forecasting", lambda: results.forecasting.update(forecasting.run_phase(workdir)))
    results.seconds = round(time.monotonic() - t0, 1)
    return results
