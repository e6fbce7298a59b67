"""Train the detector's Isolation Forest centrally: replay history through the processor's scorer, fit, backtest.

The history writer keeps one row per (sensor, minute) with that minute's first and last reading: two real
readings per sensor-minute, replayed in time order through the processor's Scorer (its default configuration)
give the forest's feature rows (z, Δz, stuck) of warmed-up sensors. The last `HOLDOUT` of them (in time) are held
out; the backtest is the mass-volume criterion on them (Goix et al., 2015): the mean, over mass levels α in
0.90..0.99, of the share of the features' bounding box where the forest's normality is at least the level that
keeps α of the held-out rows. Lower is better: a tighter normal region for the same mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.forest import ArrayForest
from gridwatch.common.schema import TYPE_CODE
from gridwatch.common.scoring import F64, FOREST_FEATURES, Scorer, ScoringConfig, fit_forest

HOLDOUT = 0.2
ALPHAS = np.linspace(0.90, 0.99, 10)
UNIFORM_POINTS = 20_000
MAX_TRAIN_ROWS = 200_000
CHUNK_MINUTES = 60

SENSORS_SQL = """
SELECT DISTINCT sensor_id FROM gw_history_minute
WHERE site = %(site)s AND minute >= to_timestamp(%(since)s) AND minute < to_timestamp(%(until)s)
ORDER BY sensor_id LIMIT %(limit)s
"""
ROWS_SQL = """
SELECT sensor_id, sensor_type, extract(epoch FROM minute), first_ts, first_value, last_ts, last_value
FROM gw_history_minute
WHERE site = %(site)s AND minute >= to_timestamp(%(since)s) AND minute < to_timestamp(%(until)s)
  AND sensor_id = ANY(%(ids)s)
ORDER BY minute, sensor_id
"""


class NotEnoughData(ValueError):
    """Too little history to train; the text says how much there is."""


@dataclass(frozen=True)
class DetectorFit:
    """A fitted forest, its backtest metrics and what it was trained on."""

    forest: ArrayForest
    metrics: dict[str, float]
    window: tuple[float, float]
    sensors: int
    rows: int


def feature_rows(
    conn: psycopg.Connection[TupleRow], site: str, since: float, until: float, limit: int
) -> tuple[F64, int]:
    """The forest's feature rows of the history window, in time order, and how many sensors they came from."""
    params = {"site": site, "since": since, "until": until, "limit": limit}
    ids = [str(r[0]) for r in conn.execute(SENSORS_SQL, params).fetchall()]
    if not ids:
        return np.zeros((0, len(FOREST_FEATURES))), 0
    scorer = Scorer(ScoringConfig(forest=False))
    sink: list[F64] = []
    scorer.feature_sink = sink
    chunk: list[tuple[str, str, float, float]] = []
    chunk_end = -np.inf
    # a server-side cursor streams the rows: a week of a large site does not fit in memory at once
    with conn.transaction(), conn.cursor(name="gw_train_detector") as cur:
        cur.itersize = 20_000
        cur.execute(ROWS_SQL, {**params, "ids": ids})
        for sensor_id, sensor_type, minute, first_ts, first_value, last_ts, last_value in cur:
            if float(minute) >= chunk_end:
                _replay(scorer, chunk)
                chunk = []
                chunk_end = float(minute) + CHUNK_MINUTES * 60.0
            kind = str(sensor_type)
            if kind not in TYPE_CODE:
                continue
            chunk.append((str(sensor_id), kind, float(first_ts), float(first_value)))
            if float(last_ts) > float(first_ts):
                chunk.append((str(sensor_id), kind, float(last_ts), float(last_value)))
    _replay(scorer, chunk)
    return (np.concatenate(sink) if sink else np.zeros((0, len(FOREST_FEATURES)))), len(ids)


def _replay(scorer: Scorer, chunk: list[tuple[str, str, float, float]]) -> None:
    if not chunk:
        return
    ids = [c[0] for c in chunk]
    sensor, _ = scorer.table.lookup(ids, ids, [TYPE_CODE[c[1]] for c in chunk])
    scorer.score(sensor, np.array([c[2] for c in chunk]), np.array([c[3] for c in chunk]))


def mass_volume(forest: ArrayForest, holdout: F64, rng: np.random.Generator) -> float:
    """Mean share of the held-out rows' bounding box that the forest calls as normal as α of those rows."""
    lo = holdout.min(axis=0)
    hi = np.maximum(holdout.max(axis=0), lo + 1e-9)
    normal_hold = forest.score_samples(holdout)
    normal_box = forest.score_samples(rng.uniform(lo, hi, size=(UNIFORM_POINTS, holdout.shape[1])))
    levels = np.quantile(normal_hold, 1.0 - ALPHAS)
    return float(np.mean([(normal_box >= t).mean() for t in levels]))


def split(rows: F64) -> tuple[F64, F64]:
    """(train, holdout): the holdout is the latest HOLDOUT of the rows."""
    cut = int(rows.shape[0] * (1.0 - HOLDOUT))
    return rows[:cut], rows[cut:]


def fit(rows: F64, trees: int, seed: int, min_rows: int) -> tuple[ArrayForest, F64]:
    """Fit on the older rows (a seeded sample of at most MAX_TRAIN_ROWS); returns the forest and the holdout."""
    if rows.shape[0] < min_rows:
        raise NotEnoughData(f"{rows.shape[0]} feature rows of warmed-up sensors in the window, need {min_rows}")
    train, holdout = split(rows)
    rng = np.random.default_rng(seed)
    if train.shape[0] > MAX_TRAIN_ROWS:
        train = train[rng.choice(train.shape[0], MAX_TRAIN_ROWS, replace=False)]
    return fit_forest(train, trees, seed), holdout


def evaluate(forest: ArrayForest, holdout: F64, seed: int) -> dict[str, float]:
    """Backtest metrics of a forest on held-out rows (the same uniform points for every forest of one seed)."""
    flagged = -forest.score_samples(holdout) > forest.threshold_score
    return {
        "mass_volume": round(mass_volume(forest, holdout, np.random.default_rng(seed + 1)), 6),
        "holdout_outlier_rate": round(float(flagged.mean()), 6),
        "holdout_rows": float(holdout.shape[0]),
    }


def train(
    conn: psycopg.Connection[TupleRow],
    site: str,
    now: float,
    hours: float,
    max_sensors: int,
    trees: int,
    seed: int,
    min_rows: int,
) -> tuple[DetectorFit, F64]:
    """Fit a candidate forest on the last `hours` of history; returns it with the holdout (to judge others on)."""
    window = (now - hours * 3600.0, now)
    rows, sensors = feature_rows(conn, site, window[0], window[1], max_sensors)
    forest, holdout = fit(rows, trees, seed, min_rows)
    metrics = {**evaluate(forest, holdout, seed), "train_rows": float(rows.shape[0] - holdout.shape[0])}
    return DetectorFit(forest, metrics, window, sensors, int(rows.shape[0])), holdout
