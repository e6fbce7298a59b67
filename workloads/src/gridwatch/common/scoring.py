"""Vectorized streaming scoring: cadence-aware baselines with a daily profile, likelihoods, failure probability."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr  # type: ignore[import-untyped]
from sklearn.ensemble import IsolationForest

from gridwatch.common.forest import ArrayForest
from gridwatch.common.schema import SENSOR_TYPES, SensorType, Status

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
STATUSES: tuple[Status, ...] = (Status.NORMAL, Status.WARNING, Status.CRITICAL)
KINDS: tuple[str, ...] = ("", "spike", "drift", "stuck", "overheat", "dropout", "deviation")
TEMPERATURE = SENSOR_TYPES.index(SensorType.TEMPERATURE)
POWER = SENSOR_TYPES.index(SensorType.POWER)
# the kind codes kernel.judge assigns: deviation, drift, overheat, spike, dropout, stuck
JUDGE_KINDS = np.array([KINDS.index(k) for k in ("deviation", "drift", "overheat", "spike", "dropout", "stuck")])
FOREST_FEATURES: tuple[str, ...] = ("z", "dz", "stuck")  # the Isolation Forest's inputs, in column order


@dataclass(frozen=True)
class ScoringConfig:
    """Time constants (in readings), thresholds and rates of the scorer (formulas in docs/scoring.md)."""

    warmup: int = 50  # readings before a sensor is scored
    level_readings: float = 10.0  # time constant of the level, in readings
    scale_readings: float = 100.0  # time constant of the residual scale, in readings
    season_days: float = 3.0  # time constant of the time-of-day profile, in days
    cadence_readings: float = 20.0  # time constant of the learned sampling interval, in readings
    max_gap_readings: float = 1000.0  # a gap counts as at most this many missed readings
    z_screen: float = 4.0  # |z| above which a reading is suspicious (barely moves the baseline)
    shift_readings: int = 12  # consecutive suspicious readings on one side after which a level shift is absorbed
    history_readings: float = 800.0  # time constant of the long-run mean and variance, in readings
    repeat_readings: float = 500.0  # time constant of each sensor's rate of exactly repeated values
    z_anomaly: float = 4.5  # a Gaussian deviation of this many sigmas scores 0.5 (the anomaly threshold)
    likelihood_decades: float = field(init=False)  # evidence D* = -log10 P(|Z| >= z_anomaly), 5.17 at 4.5
    threshold: float = 0.5  # anomaly = D / (D + D*) >= threshold; the score reaches it once per alarm
    tail_readings: float = 5000.0  # time constant of each sensor's exceedance rates of |z|, in readings
    tail_prior: float = 50.0  # weight, in readings, of the Gaussian tail in the calibrated tail
    flagged_weight: float = 0.02  # what a flagged episode teaches the tail (once), relative to a normal reading
    anchor_readings: float = 50.0  # time constant of the pre-episode level (the anchor), in quiet readings
    anchor_z: float = 3.0  # a reading within this many scales of the anchor ends an episode
    anchor_quiet: float = 0.5  # the anchor follows readings whose evidence is below this fraction of D*
    evidence_quantile: float = 0.9998  # evidence counts above this quantile of the sensor's own evidence ...
    evidence_step: float = 0.08  # ... tracked with this step (in log1p of decades) per reading
    run_decay: float = 0.7  # the score sums the evidence of a one-sided suspicious run, each earlier reading x this
    alarm_gap: int = 24  # an alarm after fewer quiet readings than this continues the previous one (score < threshold)
    relative_floor: float = 1e-3  # the scale is at least this fraction of the prediction (noise-free signals)
    # failure probability: fitted to the simulator's labelled faults (docs/scoring.md, make eval-anomaly)
    hazard_weight: float = 0.5
    hazard_readings: float = 10.0  # decay time constant of the hazard while anomalous, in readings
    recovery_readings: float = 2.0  # decay time constant once a reading is normal again, in readings
    warning_probability: float = 0.3
    critical_probability: float = 0.8
    forest: bool = False  # second-stage Isolation Forest (see docs/scoring.md for what it adds)
    forest_trees: int = 100
    forest_train_rows: int = 20_000
    forest_retrain_rows: int = 2_000_000
    seed: int = 7

    def __post_init__(self) -> None:
        object.__setattr__(self, "likelihood_decades", gaussian_decades(self.z_anomaly))


SEASON_BINS = 24  # time-of-day profile: one bin per hour (UTC)
TAIL_LEVELS = np.exp2(np.arange(2, 21) / 2.0)  # |z| levels 2 .. 1024 whose exceedance rate each sensor tracks
# per-sensor float state of the detector beyond the baseline (persisted in Redis with the rest, see store.py)
MODEL_FIELDS: tuple[str, ...] = (
    "log_cadence",
    "repeat_rate",
    "quantum",
    "shift_sum",
    "long_mean",
    "long_var",
    "anchor",
    "long_run",
    "evidence_level",
    "run_evidence",
)
MODEL_INT_FIELDS: tuple[str, ...] = (
    "stuck_run",
    "shift_run",
    "anomaly_run",
    "episode_kind",
    "since_alarm",
    "evident_run",
)
MODEL_MATRICES: tuple[str, ...] = ("season", "season_weight", "season_var", "exceed")
# 2: anchor, episode kind, hour spreads; 3: longest repeat run, evidence quantile, readings since the last alarm;
# 4: evidence of the current run of suspicious readings
MODEL_VERSION = 4  # an older checkpoint is not loaded: the sensor relearns
NO_ALARM = 1_000_000  # since_alarm of a sensor without an alarm yet (also the count's saturation)
CHECKPOINT_READINGS = 20  # a sensor's model state is written to Redis at least every this many of its readings
MODEL_WIDTH = len(MODEL_FIELDS) + len(MODEL_INT_FIELDS) + 3 * SEASON_BINS + TAIL_LEVELS.size


@dataclass
class SensorTable:
    """Per-sensor scoring state in parallel arrays, indexed by a dense sensor number."""

    ids: list[str] = field(default_factory=list)
    machines: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    capacity: int = 0
    mean: F64 = field(default_factory=lambda: np.zeros(0))  # level, without the time-of-day profile
    var: F64 = field(default_factory=lambda: np.zeros(0))  # squared scale of the residual
    last_value: F64 = field(default_factory=lambda: np.zeros(0))
    last_ts: F64 = field(default_factory=lambda: np.zeros(0))
    count: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stuck_run: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shift_run: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # signed run of suspicious readings
    anomaly_run: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    episode_kind: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # kind code of the episode, 0: none
    since_alarm: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # readings since the last alarm
    evident_run: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # consecutive readings with D >= D*
    anomalies: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hazard: F64 = field(default_factory=lambda: np.zeros(0))
    energy_kwh: F64 = field(default_factory=lambda: np.zeros(0))
    log_cadence: F64 = field(default_factory=lambda: np.zeros(0))  # log of the learned sampling interval (s)
    repeat_rate: F64 = field(default_factory=lambda: np.zeros(0))  # how often a reading repeats the previous one
    quantum: F64 = field(default_factory=lambda: np.zeros(0))  # smallest non-zero change seen, 0: none yet
    shift_sum: F64 = field(default_factory=lambda: np.zeros(0))  # sum of residuals of the current suspicious run
    long_mean: F64 = field(default_factory=lambda: np.zeros(0))  # long-run mean of the deseasonalised value ...
    long_var: F64 = field(default_factory=lambda: np.zeros(0))  # ... and its variance
    anchor: F64 = field(default_factory=lambda: np.zeros(0))  # the level before the latest episode
    long_run: F64 = field(default_factory=lambda: np.zeros(0))  # longest recent run of exact repeats (decaying)
    evidence_level: F64 = field(default_factory=lambda: np.zeros(0))  # log1p of the sensor's high evidence quantile
    run_evidence: F64 = field(default_factory=lambda: np.zeros(0))  # fading sum of the suspicious run's evidence
    season: F64 = field(default_factory=lambda: np.zeros((0, SEASON_BINS)))  # time-of-day profile
    season_weight: F64 = field(default_factory=lambda: np.zeros((0, SEASON_BINS)))  # how much each bin has learnt
    season_var: F64 = field(default_factory=lambda: np.zeros((0, SEASON_BINS)))  # mean square residual of each bin
    exceed: F64 = field(default_factory=lambda: np.zeros((0, TAIL_LEVELS.size)))  # rate of |z| >= each level
    type_code: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    source_code: I64 = field(default_factory=lambda: np.full(0, -1, dtype=np.int64))  # READING_SOURCES, -1: unknown
    shard: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # CRC-32 of the id: its partition key
    status: I64 = field(default_factory=lambda: np.full(0, -1, dtype=np.int64))
    stored_probability: F64 = field(default_factory=lambda: np.zeros(0))  # last written to the store, NaN: none
    model_saved: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # count at the last checkpoint

    def model_rows(self, rows: I64) -> list[bytes]:
        """The model state of some sensors, one little-endian float32 vector (with a version byte) per sensor."""
        cols = [getattr(self, name)[rows][:, None] for name in (*MODEL_FIELDS, *MODEL_INT_FIELDS)]
        cols += [getattr(self, name)[rows] for name in MODEL_MATRICES]
        matrix = np.concatenate(cols, axis=1).astype("<f4")
        head = bytes([MODEL_VERSION])
        return [head + row.tobytes() for row in matrix]

    def load_model(self, n: int, blob: bytes) -> bool:
        """Restore one sensor's model state from `model_rows` output; False (and nothing changed) if unusable."""
        if len(blob) != 1 + 4 * MODEL_WIDTH or blob[0] != MODEL_VERSION:
            return False
        vec = np.frombuffer(blob, dtype="<f4", offset=1).astype(np.float64)
        if np.isnan(vec).any():
            return False
        i = 0
        for name in MODEL_FIELDS:
            getattr(self, name)[n] = vec[i]
            i += 1
        for name in MODEL_INT_FIELDS:
            getattr(self, name)[n] = int(vec[i]) if np.isfinite(vec[i]) else 0
            i += 1
        for name in MODEL_MATRICES:
            width = getattr(self, name).shape[1]
            getattr(self, name)[n] = vec[i : i + width]
            i += width
        self.model_saved[n] = self.count[n]
        return True

    def _grow(self, need: int) -> None:
        cap = max(1024, self.capacity)
        while cap < need:
            cap *= 2
        if cap == self.capacity:
            return
        for name, blank in (
            ("mean", 0.0),
            ("var", 0.0),
            ("last_value", 0.0),
            ("last_ts", 0.0),
            ("hazard", 0.0),
            ("energy_kwh", 0.0),
            ("log_cadence", 0.0),
            ("repeat_rate", 0.0),
            ("quantum", 0.0),
            ("shift_sum", 0.0),
            ("long_mean", 0.0),
            ("long_var", 0.0),
            ("anchor", np.nan),
            ("long_run", 0.0),
            ("evidence_level", 0.0),
            ("run_evidence", 0.0),
            ("stored_probability", np.nan),
        ):
            arr = getattr(self, name)
            new = np.full(cap, blank)
            new[: arr.size] = arr
            setattr(self, name, new)
        for name in ("season", "season_weight", "season_var", "exceed"):
            arr2 = getattr(self, name)
            new2 = np.zeros((cap, arr2.shape[1]))
            new2[: arr2.shape[0]] = arr2
            setattr(self, name, new2)
        for name, fill in (
            ("count", 0),
            ("stuck_run", 0),
            ("shift_run", 0),
            ("anomaly_run", 0),
            ("episode_kind", 0),
            ("since_alarm", NO_ALARM),
            ("evident_run", 0),
            ("anomalies", 0),
            ("type_code", 0),
            ("source_code", -1),
            ("shard", 0),
            ("status", -1),
            ("model_saved", 0),
        ):
            arr = getattr(self, name)
            newi = np.full(cap, fill, dtype=np.int64)
            newi[: arr.size] = arr
            setattr(self, name, newi)
        self.capacity = cap

    def lookup(self, sensor_ids: list[str], machines: list[str], type_codes: list[int]) -> tuple[I64, list[int]]:
        """Dense numbers of the sensors, registering unknown ones; also returns the new numbers."""
        index = self.index
        found = list(map(index.get, sensor_ids))  # one C-level pass; unknown ids come back as None
        if None not in found:
            return np.fromiter(found, dtype=np.int64, count=len(found)), []
        out = np.empty(len(sensor_ids), dtype=np.int64)
        new: list[int] = []
        for i, sid in enumerate(sensor_ids):
            n = index.get(sid)
            if n is None:
                n = len(self.ids)
                index[sid] = n
                self.ids.append(sid)
                self.machines.append(machines[i])
                new.append(n)
            out[i] = n
        if new:
            self._grow(len(self.ids))
            codes = np.asarray(type_codes, dtype=np.int64)
            self.type_code[out] = codes  # same sensor always has the same type
            self.shard[new] = [zlib.crc32(self.ids[n].encode()) for n in new]
        return out, new


@dataclass
class BatchResult:
    """Scored readings of one batch, in (sensor, time) order, replays removed."""

    source: I64  # position of each reading in the input
    sensor: I64
    ts: F64
    value: F64
    z: F64
    score: F64  # anomaly_score: the sensor-relative likelihood, at the threshold once per alarm (docs/scoring.md)
    anomaly: B
    kind: I64
    probability: F64
    status: I64
    energy_delta: F64
    power_delta: F64
    skipped: int

    @property
    def size(self) -> int:
        """Number of scored readings."""
        return int(self.sensor.size)


LN10 = math.log(10.0)


def gaussian_decades(z: float) -> float:
    """Evidence D = -log10 P(|Z| >= z) of a Gaussian deviation of z standard deviations."""
    return float(-(log_ndtr(-abs(z)) + math.log(2.0)) / LN10)


def anomaly_score(log10_tail: F64, decades: float) -> F64:
    """Map D = -log10 of a tail probability to [0, 1): D / (D + decades), 0.5 at `decades`, strictly increasing.

    Unlike 1 - p, this never rounds to 1 for any finite evidence, so the top of the ranking has no ties.
    """
    d = np.maximum(log10_tail, 0.0)
    out: F64 = d / (d + decades)
    return out


class Scorer:
    """Scores batches of readings with per-sensor streaming baselines, vectorized over sensors."""

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self.table = SensorTable()
        self.forest: ArrayForest | None = None
        self.forest_threshold = 0.0
        self.local_fit = True  # False: the forest comes from the model registry (install_forest), never fitted here
        self.feature_sink: list[F64] | None = None  # when set, every batch's warm feature rows are appended (trainer)
        self._train: list[F64] = []
        self._train_rows = 0
        self._rows_since_fit = 0
        self._rng = np.random.default_rng(config.seed)
        c = config
        self._learn_cfg = np.array(
            [
                c.warmup, c.level_readings, c.scale_readings, c.season_days, c.cadence_readings, c.max_gap_readings,
                c.z_screen, c.shift_readings, c.history_readings, c.repeat_readings, c.likelihood_decades,
                c.tail_readings, c.tail_prior, c.flagged_weight, c.relative_floor, c.anchor_readings, c.anchor_z,
                c.anchor_quiet, c.evidence_quantile, c.evidence_step, c.run_decay,
            ],
            dtype=np.float64,
        )  # fmt: skip
        self._judge_cfg = np.array(
            [
                c.threshold, c.hazard_weight, c.hazard_readings, c.recovery_readings, c.warning_probability,
                c.critical_probability, c.z_screen, c.alarm_gap,
            ],
            dtype=np.float64,
        )  # fmt: skip

    def compile(self) -> None:
        """Compile the scoring loops now (numba, about 3 s once per process) rather than on the first batch."""
        self.score(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))

    def reset(self) -> None:
        """Forget all sensors (after a rebalance their state is reloaded from the store)."""
        self.table = SensorTable()

    def score(self, sensor: I64, ts: F64, value: F64) -> BatchResult:
        """Score readings of registered sensors; readings not newer than the sensor's last are skipped."""
        from gridwatch.common import kernel  # numba: imported by what scores, not by every user of the constants

        cfg = self.config
        t = self.table
        n_in = sensor.size
        order = np.lexsort((ts, sensor))
        sensor, ts, value = sensor[order], ts[order], value[order]
        keep = ts > t.last_ts[sensor]
        if sensor.size > 1:
            keep[1:] &= ~((sensor[1:] == sensor[:-1]) & (ts[1:] <= ts[:-1]))
        sensor, ts, value, order = sensor[keep], ts[keep], value[keep], order[keep]
        n = sensor.size
        z = np.zeros(n)
        dz = np.zeros(n)
        steps = np.zeros(n)
        log_tail = np.zeros(n)
        log_rel = np.zeros(n)
        stuck = np.zeros(n, dtype=bool)
        warm = np.zeros(n, dtype=bool)
        energy_delta = np.zeros(n)
        power_delta = np.zeros(n)
        kernel.learn(
            sensor, ts, value, self._learn_cfg, TAIL_LEVELS, POWER,
            t.mean, t.var, t.last_value, t.last_ts, t.count, t.stuck_run, t.shift_run, t.log_cadence,
            t.repeat_rate, t.quantum, t.shift_sum, t.long_mean, t.long_var, t.anchor, t.long_run, t.evidence_level,
            t.run_evidence, t.season, t.season_weight, t.season_var, t.exceed, t.type_code, t.energy_kwh, t.evident_run,
            z, dz, steps, log_tail, log_rel, stuck, warm, energy_delta, power_delta,
        )  # fmt: skip
        score = anomaly_score(log_tail, cfg.likelihood_decades)
        likelihood = anomaly_score(log_rel, cfg.likelihood_decades)
        if cfg.forest or self.feature_sink is not None:
            self._forest_stage((score, likelihood), z, dz, stuck, warm)
        alarm = np.zeros(n)
        anomaly = np.zeros(n, dtype=bool)
        kind = np.zeros(n, dtype=np.int64)
        probability = np.zeros(n)
        status = np.zeros(n, dtype=np.int64)
        kernel.judge(
            sensor, value, score, likelihood, z, dz, steps, stuck, self._judge_cfg, TEMPERATURE, JUDGE_KINDS,
            t.anomaly_run, t.episode_kind, t.since_alarm, t.anomalies, t.hazard, t.type_code,
            alarm, anomaly, kind, probability, status,
        )  # fmt: skip
        return BatchResult(
            order, sensor, ts, value, z, alarm, anomaly, kind, probability, status, energy_delta, power_delta, n_in - n
        )

    def _forest_stage(self, scores: tuple[F64, ...], z: F64, dz: F64, stuck: B, warm: B) -> None:
        """Optional second stage: an Isolation Forest on (z, Δz, stuck) of the screened candidate rows."""
        features = forest_features(z, dz, stuck)
        if self.feature_sink is not None:
            self.feature_sink.append(features[warm])
        if not self.config.forest:
            return
        candidates = np.flatnonzero(warm & ((np.abs(z) >= self.config.z_screen) | stuck))
        if self.forest is not None and candidates.size:
            raw = -self.forest.score_samples(features[candidates])
            forest_score = np.clip(0.5 + (raw - self.forest_threshold) / (2 * (1.0 - self.forest_threshold)), 0, 1)
            boost = np.where(raw > self.forest_threshold, forest_score, 0)
            for score in scores:
                score[candidates] = np.maximum(score[candidates], boost)
        if self.local_fit:
            self._collect(features[warm])

    def install_forest(self, forest: ArrayForest) -> None:
        """Serve a forest fitted elsewhere (the trainer's, from the registry) and stop fitting one locally."""
        if forest.n_features != len(FOREST_FEATURES):
            raise ValueError(f"the forest takes {forest.n_features} features, the scorer has {len(FOREST_FEATURES)}")
        self.forest = forest
        self.forest_threshold = forest.threshold_score
        self.local_fit = False
        self._train, self._train_rows, self._rows_since_fit = [], 0, 0

    def _collect(self, rows: F64) -> None:
        """Keep a sample of warm feature rows; fit the forest once enough arrived, refit periodically."""
        cfg = self.config
        if rows.shape[0] == 0:
            return
        self._rows_since_fit += rows.shape[0]
        if self.forest is None or self._rows_since_fit >= cfg.forest_retrain_rows:
            take = rows if rows.shape[0] <= 2048 else rows[self._rng.choice(rows.shape[0], 2048, replace=False)]
            self._train.append(take)
            self._train_rows += take.shape[0]
            if self._train_rows >= cfg.forest_train_rows:
                self.fit(np.concatenate(self._train))
                self._train, self._train_rows, self._rows_since_fit = [], 0, 0

    def fit(self, rows: F64) -> None:
        """Fit the Isolation Forest on feature rows (z, Δz, stuck) of warmed-up sensors."""
        forest = fit_forest(rows, self.config.forest_trees, self.config.seed)
        self.forest = forest
        self.forest_threshold = forest.threshold_score


def forest_features(z: F64, dz: F64, stuck: B) -> F64:
    """The forest's feature rows (FOREST_FEATURES): z and Δz clipped to ±50, stuck as 0/1."""
    out: F64 = np.column_stack([np.clip(z, -50, 50), np.clip(dz, -50, 50), stuck.astype(np.float64)])
    return out


def fit_forest(rows: F64, trees: int, seed: int) -> ArrayForest:
    """An Isolation Forest fitted on feature rows, as arrays (what the processor and the trainer both fit)."""
    forest = IsolationForest(n_estimators=trees, max_samples=256, contamination=0.002, random_state=seed)
    forest.fit(rows)
    return ArrayForest.from_sklearn(forest)


def status_name(code: int) -> Status:
    """Status of a status code."""
    return STATUSES[code]


if __name__ == "__main__":  # `python -m gridwatch.common.scoring`: compile and cache the loops (the image build)
    Scorer(ScoringConfig()).compile()
