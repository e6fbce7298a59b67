"""The Numenta Anomaly Benchmark scorer: windows, scaled sigmoid, profiles, threshold sweep, normalisation."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
NO_DETECTION = 1.1  # the sweep's sentinel threshold: nothing is detected


@dataclass(frozen=True)
class Profile:
    """One NAB cost matrix (weights positive, as in NAB's code)."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 0.11, 1.0),
    Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
)


def scaled_sigmoid(y: F64) -> F64:
    """sigma(y) = 2 / (1 + exp(5y)) - 1, exactly -1 for y > 3 (NAB's `scaledSigmoid`)."""
    out: F64 = np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0)
    return out


MAX_TP = float(scaled_sigmoid(np.array([-1.0]))[0])


def probation(rows: int) -> int:
    """Rows left out of scoring at the start of a file: min(floor(0.15·N), 750)."""
    return min(math.floor(0.15 * rows), 750)


@dataclass(frozen=True)
class LabelledFile:
    """One file's scored rows: window number (-1 outside) and the unweighted sigmoid of each row."""

    name: str
    rows: int
    windows: int
    window: I64  # per scored row (probation removed)
    sigma: F64  # per scored row
    first: int  # index of the first scored row in the file


def label_file(name: str, timestamps: npt.NDArray[np.datetime64], windows: list[tuple[str, str]]) -> LabelledFile:
    """Positions of every row relative to the file's windows, as NAB's sweeper computes them."""
    n = timestamps.size
    window = np.full(n, -1, dtype=np.int64)
    sigma = np.full(n, -1.0)
    bounds: list[tuple[int, int]] = []
    for start, end in windows:
        lo = int(np.searchsorted(timestamps, np.datetime64(start)))
        hi = int(np.searchsorted(timestamps, np.datetime64(end)))
        if lo >= n or hi >= n or timestamps[lo] != np.datetime64(start) or timestamps[hi] != np.datetime64(end):
            raise ValueError(f"{name}: window edge {start} or {end} is not a timestamp of the file")
        bounds.append((lo, hi))
    for k, (lo, hi) in enumerate(bounds):
        width = hi - lo + 1
        i = np.arange(lo, hi + 1)
        window[lo : hi + 1] = k
        sigma[lo : hi + 1] = scaled_sigmoid(-(hi - i + 1) / width)
        after_end = bounds[k + 1][0] if k + 1 < len(bounds) else n
        j = np.arange(hi + 1, after_end)
        if j.size:
            # NAB divides by (w - 1) here but by w inside the window (upstream issue #366); kept as NAB does
            sigma[hi + 1 : after_end] = scaled_sigmoid(np.abs(j - hi) / max(width - 1, 1e-9))
    first = probation(n)
    return LabelledFile(name, n, len(bounds), window[first:], sigma[first:], first)


@dataclass(frozen=True)
class Corpus:
    """A labelled NAB corpus: files with their row positions and the total number of windows."""

    root: Path
    files: list[LabelledFile]
    timestamps: dict[str, npt.NDArray[np.datetime64]]
    values: dict[str, F64]

    @property
    def windows(self) -> int:
        """Number of windows n over all files (normalises the score)."""
        return sum(f.windows for f in self.files)


def read_series(path: Path) -> tuple[npt.NDArray[np.datetime64], F64]:
    """Timestamps and values of a NAB CSV (`timestamp,value`)."""
    stamps: list[str] = []
    values: list[float] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if header[:2] != ["timestamp", "value"]:
            raise ValueError(f"{path}: header is {header}, expected timestamp,value")
        for row in reader:
            stamps.append(row[0])
            values.append(float(row[1]))
    return np.array(stamps, dtype="datetime64[s]"), np.array(values)


def build_corpus(
    root: Path, series: dict[str, tuple[npt.NDArray[np.datetime64], F64]], windows: dict[str, list[list[str]]]
) -> Corpus:
    """A corpus from series in memory and their windows (NAB's `combined_windows.json` layout)."""
    files = [label_file(name, series[name][0], [(a, b) for a, b in windows[name]]) for name in sorted(windows)]
    return Corpus(root, files, {k: v[0] for k, v in series.items()}, {k: v[1] for k, v in series.items()})


def load_corpus(root: Path) -> Corpus:
    """Read `data/**.csv` and `labels/combined_windows.json` of a NAB folder."""
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    return build_corpus(root, {name: read_series(root / "data" / name) for name in windows}, windows)


@dataclass(frozen=True)
class Score:
    """A detector's NAB result under one profile."""

    profile: str
    threshold: float
    raw: float
    normalized: float
    tp: int
    fp: int
    fn: int


def normalize(raw: float, windows: int, profile: Profile) -> float:
    """100·(S − S_null) / (S_perfect − S_null) with S_perfect = n·A_TP and S_null = −n·A_FN."""
    perfect, null = windows * profile.tp, -windows * profile.fn
    return 100.0 * (raw - null) / (perfect - null)


def _stack(corpus: Corpus, scores: dict[str, F64]) -> tuple[F64, I64, F64]:
    """Scored rows of every file: anomaly score, global window number (-1 outside), sigma."""
    parts_s: list[F64] = []
    parts_w: list[I64] = []
    parts_g: list[F64] = []
    offset = 0
    for f in corpus.files:
        s = np.asarray(scores[f.name], dtype=np.float64)
        if s.size != f.rows:
            raise ValueError(f"{f.name}: {s.size} scores for {f.rows} rows")
        if np.any((s < 0) | (s > 1)) or np.any(np.isnan(s)):
            raise ValueError(f"{f.name}: anomaly scores must lie in [0, 1]")
        parts_s.append(s[f.first :])
        parts_w.append(np.where(f.window >= 0, f.window + offset, -1))
        parts_g.append(f.sigma)
        offset += f.windows
    return np.concatenate(parts_s), np.concatenate(parts_w), np.concatenate(parts_g)


def score_at(corpus: Corpus, scores: dict[str, F64], profile: Profile, threshold: float) -> Score:
    """Raw and normalised score with rows detected where anomaly_score ≥ threshold."""
    s, w, g = _stack(corpus, scores)
    n = corpus.windows
    hit = s >= threshold
    fp_rows = hit & (w < 0)
    fp = float((profile.fp * g[fp_rows]).sum())
    credit = np.full(n, -np.inf)
    tp_rows = hit & (w >= 0)
    np.maximum.at(credit, w[tp_rows], profile.tp * g[tp_rows] / MAX_TP)
    detected = np.isfinite(credit)
    raw = float(credit[detected].sum()) - profile.fn * int((~detected).sum()) + fp
    return Score(
        profile.name,
        threshold,
        raw,
        normalize(raw, n, profile),
        int(detected.sum()),
        int(fp_rows.sum()),
        int((~detected).sum()),
    )


def optimise(corpus: Corpus, scores: dict[str, F64], profile: Profile) -> Score:
    """NAB's threshold sweep: the one corpus-wide threshold with the highest raw score (highest on ties)."""
    s, w, g = _stack(corpus, scores)
    n = corpus.windows
    order = np.argsort(-s, kind="stable")
    s, w, g = s[order], w[order], g[order]
    m = s.size
    gain = np.where(w < 0, profile.fp * g, 0.0)  # every false positive row adds A_FP·sigma (< 0)
    inside = np.flatnonzero(w >= 0)
    if inside.size:
        # per window, the credit is the running maximum of A_TP·sigma/sigma(-1) over its detected rows
        by_window = inside[np.argsort(w[inside], kind="stable")]
        win = w[by_window]
        credit = profile.tp * g[by_window] / MAX_TP  # in (0, A_TP]
        lifted = credit + 4.0 * profile.tp * win  # groups cannot reach each other's values
        running = np.maximum.accumulate(lifted) - 4.0 * profile.tp * win
        new_group = np.r_[True, win[1:] != win[:-1]]
        previous = np.where(new_group, -profile.fn, np.r_[0.0, running[:-1]])
        gain[by_window] += running - previous
    total = -profile.fn * n + np.cumsum(gain)
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if m else np.zeros(0, dtype=np.int64)
    candidates = np.r_[-profile.fn * n, total[ends]]
    thresholds = np.r_[NO_DETECTION, s[ends]]
    best = int(np.argmax(candidates))  # first maximum = the highest threshold among ties
    return score_at(corpus, scores, profile, float(thresholds[best]))
