"""Where a processor replica spends its time: py-spy samples of a drain, summed by pipeline stage."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

# (stage, frame that marks it); the first match from the top of the list wins
STAGES: tuple[tuple[str, str], ...] = (
    ("decode + validate (msgspec)", "decode "),
    ("sensor lookup (ids → rows)", "SensorTable.lookup "),
    ("restore state of new sensors", "StateStore.restore "),
    ("scoring (numpy, Isolation Forest)", "Scorer.score "),
    ("build Redis records", "StateStore.build "),
    ("Redis MULTI write", "StateStore.write "),
    ("enriched readings to Kafka", "Processor._emit "),
    ("alerts + live update", "Processor._alerts "),
    ("alerts + live update", "Processor._live_update "),
    ("Kafka commit", "Processor._commit "),
    ("batch assembly (runner)", "Processor._score "),
    ("Kafka flush, commit, other batch work", "Processor.handle "),
    ("waiting for Kafka (consume)", "Processor.run "),
)


def available() -> bool:
    """True when py-spy is installed."""
    return shutil.which("py-spy") is not None


def attach(pid: int, out: Path, cpus: str | None, rate: int = 250) -> subprocess.Popen[bytes]:
    """Start sampling a process (idle samples included) into a raw collapsed-stack file."""
    argv = ["py-spy", "record", "--idle", "-r", str(rate), "--format", "raw", "-o", str(out), "--pid", str(pid)]
    if cpus is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", cpus, *argv]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stages(raw: Path) -> dict[str, float]:
    """Share (0..1) of the main loop's samples per stage."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit() or "Processor.run " not in stack:
            continue
        frames = stack.split(";")
        if any(f.startswith("Scorer.compile ") for f in frames):
            continue  # numba's compile (or cache load) before the replica joins its group: start-up, not the loop
        count = int(n)
        total += count
        for stage, marker in STAGES:
            if any(f.startswith(marker) for f in frames):
                counts[stage] += count
                break
    if not total:
        return {}
    return {stage: round(c / total, 4) for stage, c in counts.most_common()}
