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
    threshold: float = 0.5  # anomaly = score >= threshold
    tail_readings: float = 5000.0  # time constant of each sensor's exceedance rates of |z|, in readings
    tail_prior: float = 50.0  # weight, in readings, of the Gaussian tail in the calibrated tail
    flagged_weight: float = 0.1  # how much a flagged reading teaches the tail, relative to a normal one
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


def failure_probability(hazard: F64) -> F64:
    """p = 1 - exp(-h): bounded in [0, 1) and increasing in the hazard h ≥ 0."""
    p: F64 = -np.expm1(-np.maximum(hazard, 0.0))
    return p


def next_hazard(
    hazard: F64, steps: F64, severity: F64, weight: float, tau: float, recovery_tau: float | None = None
) -> F64:
    """h' = h·exp(-n/τ) + w·severity, n and τ in readings: grows with severity and persistence, decays once healthy.

    A normal reading (severity 0) decays with `recovery_tau` instead of τ when given: faults end abruptly, so a
    probability that lingers for τ readings after the signal is healthy again is badly calibrated.
    """
    n = np.maximum(steps, 0.0)
    decay = np.exp(-n / tau) if recovery_tau is None else np.exp(-n / np.where(severity > 0, tau, recovery_tau))
    out: F64 = hazard * decay + weight * severity
    return out


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
)
MODEL_INT_FIELDS: tuple[str, ...] = ("stuck_run", "shift_run", "anomaly_run")
MODEL_MATRICES: tuple[str, ...] = ("season", "season_weight", "exceed")
MODEL_VERSION = 1
CHECKPOINT_READINGS = 20  # a sensor's model state is written to Redis at least every this many of its readings
MODEL_WIDTH = len(MODEL_FIELDS) + len(MODEL_INT_FIELDS) + 2 * SEASON_BINS + TAIL_LEVELS.size


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
    anomalies: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hazard: F64 = field(default_factory=lambda: np.zeros(0))
    energy_kwh: F64 = field(default_factory=lambda: np.zeros(0))
    log_cadence: F64 = field(default_factory=lambda: np.zeros(0))  # log of the learned sampling interval (s)
    repeat_rate: F64 = field(default_factory=lambda: np.zeros(0))  # how often a reading repeats the previous one
    quantum: F64 = field(default_factory=lambda: np.zeros(0))  # smallest non-zero change seen, 0: none yet
    shift_sum: F64 = field(default_factory=lambda: np.zeros(0))  # sum of residuals of the current suspicious run
    long_mean: F64 = field(default_factory=lambda: np.zeros(0))  # long-run mean of the deseasonalised value ...
    long_var: F64 = field(default_factory=lambda: np.zeros(0))  # ... and its variance
    season: F64 = field(default_factory=lambda: np.zeros((0, SEASON_BINS)))  # time-of-day profile
    season_weight: F64 = field(default_factory=lambda: np.zeros((0, SEASON_BINS)))  # how much each bin has learnt
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
            ("stored_probability", np.nan),
        ):
            arr = getattr(self, name)
            new = np.full(cap, blank)
            new[: arr.size] = arr
            setattr(self, name, new)
        for name in ("season", "season_weight", "exceed"):
            arr2 = getattr(self, name)
            new2 = np.zeros((cap, arr2.shape[1]))
            new2[: arr2.shape[0]] = arr2
            setattr(self, name, new2)
        for name, fill in (
            ("count", 0),
            ("stuck_run", 0),
            ("shift_run", 0),
            ("anomaly_run", 0),
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
    score: F64
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


def rate(readings: float | F64, steps: F64) -> F64:
    """EWMA weight of a time constant of `readings` readings after `steps` readings' worth of time."""
    out: F64 = -np.expm1(steps * np.log1p(-1.0 / readings))
    return out


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

    def reset(self) -> None:
        """Forget all sensors (after a rebalance their state is reloaded from the store)."""
        self.table = SensorTable()

    def score(self, sensor: I64, ts: F64, value: F64) -> BatchResult:
        """Score readings of registered sensors; readings not newer than the sensor's last are skipped."""
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
        dt = np.zeros(n)
        steps = np.zeros(n)
        log_tail = np.zeros(n)
        stuck = np.zeros(n, dtype=bool)
        warm = np.zeros(n, dtype=bool)
        energy_delta = np.zeros(n)
        power_delta = np.zeros(n)
        power_code = SENSOR_TYPES.index(SensorType.POWER)
        # rank r = r-th reading of its sensor in this batch; each rank touches each sensor at most once
        starts = np.ones(n, dtype=bool)
        if n > 1:
            starts[1:] = sensor[1:] != sensor[:-1]
        rank = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max(initial=0)) + 2))
        slices = [by_rank[bounds[r] : bounds[r + 1]] for r in range(bounds.size - 1)]
        for p in slices:
            self._step(p, sensor[p], ts[p], value[p], z, dz, dt, steps, log_tail, stuck, warm)
            s = sensor[p]
            x = value[p]
            seen = t.count[s] > 0
            is_power = t.type_code[s] == power_code
            hours = np.minimum(dt[p], 300.0) / 3600.0
            energy_delta[p] = np.where(is_power & seen, x * hours, 0.0)
            power_delta[p] = np.where(is_power, x - np.where(seen, t.last_value[s], 0.0), 0.0)
            t.last_value[s] = x
            t.last_ts[s] = ts[p]
            t.count[s] += 1
        score = anomaly_score(log_tail, cfg.likelihood_decades)
        if cfg.forest or self.feature_sink is not None:
            self._forest_stage(score, z, dz, stuck, warm)
        anomaly = score >= cfg.threshold
        kind = np.zeros(n, dtype=np.int64)
        probability = np.zeros(n)
        status = np.zeros(n, dtype=np.int64)
        for p in slices:
            s = sensor[p]
            an = anomaly[p]
            run = np.where(an, t.anomaly_run[s] + 1, 0)
            t.anomaly_run[s] = run
            t.anomalies[s] += an
            severity = np.where(an, score[p], 0.0)
            h = next_hazard(
                t.hazard[s], steps[p], severity, cfg.hazard_weight, cfg.hazard_readings, cfg.recovery_readings
            )
            t.hazard[s] = h
            prob = failure_probability(h)
            probability[p] = prob
            st = np.where(prob >= cfg.critical_probability, 2, np.where((prob >= cfg.warning_probability) | an, 1, 0))
            status[p] = st
            kind[p] = np.where(~an, 0, self._classify(p, s, value, z, dz, stuck, run))
        for p in slices:
            t.energy_kwh[sensor[p]] += energy_delta[p]
        return BatchResult(
            order, sensor, ts, value, z, score, anomaly, kind, probability, status, energy_delta, power_delta, n_in - n
        )

    def _step(
        self, p: I64, s: I64, ts: F64, x: F64, z: F64, dz: F64, dt: F64, steps: F64, log_tail: F64, stuck: B, warm: B
    ) -> None:
        """Score one reading of each sensor in `s` against its state, then learn from it (no look-ahead)."""
        cfg = self.config
        t = self.table
        c = t.count[s]
        seen = c > 0
        first = ~seen
        # cadence: a robust running log-mean of the sampling interval; a gap counts as the readings it missed
        gap = np.where(seen, np.maximum(ts - t.last_ts[s], 1e-6), 0.0)
        lg = np.log(np.maximum(gap, 1e-6))
        lc = t.log_cadence[s]
        known = c >= 2
        k = np.where(known, np.clip(np.exp(lg - lc), 0.0, cfg.max_gap_readings), 1.0)
        a_cad = np.maximum(1.0 / np.maximum(c, 1), 1.0 / cfg.cadence_readings)
        new_lc = np.where(c == 1, lg, lc + a_cad * (np.clip(lg, lc - 1.4, lc + 1.4) - lc))
        new_lc = np.where(seen, new_lc, 0.0)
        t.log_cadence[s] = new_lc
        dt[p] = gap
        steps[p] = np.where(seen, np.maximum(k, 1e-3), 0.0)
        # prediction: level + time-of-day profile (the profile only counts once its bin has learnt)
        b = ((ts % 86400.0) // (86400.0 / SEASON_BINS)).astype(np.int64)
        cell = s * SEASON_BINS + b  # flat index of (sensor, bin): 1-D take/put beat 2-D fancy indexing
        sw = np.take(t.season_weight, cell)
        sv = np.take(t.season, cell)
        season = sv * np.minimum(sw, 1.0)
        level = np.where(first, x, t.mean[s])
        pred = level + season
        r = x - pred
        q = t.quantum[s]
        scale = np.sqrt(t.var[s])
        floor = np.maximum(0.5 * q, 1e-9 + cfg.relative_floor * np.abs(pred))  # integer data: at least 0.5
        sd = np.maximum(scale, floor)
        zz = r / sd
        w = c >= cfg.warmup
        prev = t.last_value[s]
        z[p] = np.where(w, zz, 0.0)
        dz[p] = np.where(w & seen, (x - prev) / sd, 0.0)
        warm[p] = w
        # stuck: an exact repeat of a non-zero value is evidence in proportion to how rarely this sensor repeats
        rep = seen & (x == prev)
        run = np.where(rep & (x != 0.0), t.stuck_run[s] + 1, 0)
        t.stuck_run[s] = run
        rr = t.repeat_rate[s]
        a_rep = np.where(c < cfg.warmup, 1.0 / (c + 1.0), 1.0 / cfg.repeat_readings)
        # the run's own first repeat taught the rate; judge the run by the rate from before it
        before = np.where(run >= 2, (rr - a_rep) / np.maximum(1.0 - a_rep, 1e-9), rr)
        log_stuck = -run * np.log10(np.maximum(before, 1e-10))
        # a run in progress does not teach the sensor that repeats are normal, unless it lasts `repeat_readings`
        learn_rep = seen & ((run <= 1) | (c < cfg.warmup) | (run > cfg.repeat_readings))
        t.repeat_rate[s] = np.where(learn_rep, rr + a_rep * (rep - rr), rr)
        st = w & (run >= 1) & (log_stuck >= cfg.likelihood_decades)
        stuck[p] = st
        # long-run distribution of the deseasonalised value: sustained deviations and slow changes
        lm, lv = t.long_mean[s], t.long_var[s]
        dl = np.where(first, 0.0, x - season - lm)
        zlong = dl / np.maximum(np.sqrt(lv), floor)
        a_lg = np.where(c < cfg.warmup, 1.0 / (c + 1.0), 1.0 / cfg.history_readings)
        t.long_mean[s] = np.where(first, x - season, lm + a_lg * dl)
        t.long_var[s] = np.where(first, 0.0, (1.0 - a_lg) * (lv + a_lg * dl * dl))
        # evidence D = -log10 of a tail probability: the largest of the long-run deviation (Gaussian tail), the
        # residual against the level (this sensor's own calibrated tail) and an improbable run of repeats
        d_long = -(log_ndtr(-np.minimum(np.abs(zlong), 1e6)) + math.log(2.0)) / LN10
        d_fast = self._empirical_tail(s, c, np.abs(zz), d_long)
        evidence = np.maximum(np.maximum(d_long, d_fast), np.where(st, log_stuck, 0.0))
        log_tail[p] = np.where(w, evidence, 0.0)
        # learning: suspicious readings barely move the baseline; a run of them on one side is a level shift
        suspicious = w & (np.abs(zz) >= cfg.z_screen)
        side = np.sign(r)
        sr = t.shift_run[s]
        same = suspicious & (np.sign(sr) == side)
        sr = np.where(same, sr + side, np.where(suspicious, side, 0)).astype(np.int64)
        ssum = np.where(same, t.shift_sum[s] + r, np.where(suspicious, r, 0.0))
        # absorbed only if steady: the latest residual agrees with the run's mean (a ramp keeps being flagged)
        steady = np.abs(r - ssum / np.maximum(np.abs(sr), 1)) < cfg.z_screen * sd
        shifted = (np.abs(sr) >= cfg.shift_readings) & steady
        a_l = np.where(c < cfg.warmup, 1.0 / (c + 1.0), rate(cfg.level_readings, np.maximum(k, 1.0)))
        a_l = np.where(suspicious, a_l * 0.02, a_l)
        new_level = np.where(first, x - season, level + a_l * r)
        new_level = np.where(shifted, x - season, new_level)  # absorbed: the new level is the latest reading
        t.mean[s] = new_level
        t.shift_run[s] = np.where(shifted, 0, sr)
        t.shift_sum[s] = np.where(shifted, 0.0, ssum)
        a_v = np.where(c < cfg.warmup, 1.0 / (c + 1.0), rate(cfg.scale_readings, np.maximum(k, 1.0)))
        a_v = np.where(suspicious, a_v * 0.02, a_v)
        rc = np.where(seen, np.minimum(np.abs(r), cfg.z_screen * sd), 0.0)
        t.var[s] = np.where(seen, (1.0 - a_v) * scale * scale + a_v * rc * rc, 0.0)
        # the profile learns the residual of its bin; a bin's weight grows with the days it has seen
        cad = np.exp(new_lc)
        per_bin = np.maximum(86400.0 / SEASON_BINS / np.maximum(cad, 1e-3), 1.0)  # visits of a bin per day
        a_b = -np.expm1(np.log1p(-1.0 / (cfg.season_days * per_bin)))  # rate(season_days·per_bin, 1 reading)
        learn = seen & ~suspicious & known
        np.put(t.season, cell, np.where(learn, sv + a_b * (x - level - sv), sv))
        np.put(t.season_weight, cell, np.where(learn, sw + 1.0 / per_bin, sw))
        dx = np.abs(x - prev)
        t.quantum[s] = np.where(seen & (dx > 0), np.where(q > 0, np.minimum(q, dx), dx), q)

    def _empirical_tail(self, s: I64, c: I64, u: F64, other: F64) -> F64:
        """-log10 P(|z| >= u) from this sensor's own exceedance rates, shrunk towards the Gaussian tail, then learn u.

        P = (N·rate(u) + m·G(u)) / (N + m): with little history (N small) it is the Gaussian tail G; a sensor whose
        history is heavy-tailed gets lower scores for the same |z|; beyond anything seen it still ranks by G(u).
        """
        cfg = self.config
        t = self.table
        ex = np.take(t.exceed, s, axis=0)  # a row gather: much faster than fancy indexing t.exceed[s]
        uu = np.minimum(u, 1e6)
        pos = np.clip(2.0 * np.log2(np.maximum(uu, 1e-12)) - 2.0, 0.0, TAIL_LEVELS.size - 1.0)
        j = np.minimum(pos.astype(np.int64), TAIL_LEVELS.size - 2)
        frac = pos - j
        at = np.arange(s.size) * TAIL_LEVELS.size + j
        lo, hi = np.take(ex, at), np.take(ex, at + 1)
        r = np.where(uu < TAIL_LEVELS[0], 1.0, lo + frac * (hi - lo))
        r = np.where(uu >= TAIL_LEVELS[-1], hi, r)
        n_eff = np.minimum(np.maximum(c - cfg.warmup, 0).astype(np.float64), cfg.tail_readings)
        log_g = log_ndtr(-uu) + math.log(2.0)
        # log of (N·r + m·G) / (N + m), computed without underflow when r = 0
        total = n_eff + cfg.tail_prior
        with np.errstate(divide="ignore"):
            log_p = np.logaddexp(np.log(n_eff * r / total), log_g + np.log(cfg.tail_prior / total))
        tail = -log_p / LN10
        learnt = np.maximum(c - cfg.warmup, 0).astype(np.float64)  # z means nothing before the warm-up ends
        a = np.where(c < cfg.warmup, 0.0, np.maximum(1.0 / (learnt + 1.0), 1.0 / cfg.tail_readings))
        flagged = np.maximum(tail, other) >= cfg.likelihood_decades  # flagged readings barely teach the tail
        a = np.where(flagged, a * cfg.flagged_weight, a)[:, None]
        # ex + a·(1[u >= level] - ex), in place: the same operations without four (rows × levels) temporaries
        upd: F64 = np.subtract(uu[:, None] >= TAIL_LEVELS, ex)
        upd *= a
        upd += ex
        t.exceed[s] = upd
        out: F64 = np.maximum(tail, 0.0)
        return out

    def _forest_stage(self, score: F64, z: F64, dz: F64, stuck: B, warm: B) -> None:
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
            score[candidates] = np.maximum(score[candidates], np.where(raw > self.forest_threshold, forest_score, 0))
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

    def _classify(self, p: I64, s: I64, value: F64, z: F64, dz: F64, stuck: B, run: I64) -> I64:
        t = self.table
        zp = z[p]
        k = np.full(p.size, KINDS.index("deviation"), dtype=np.int64)
        k = np.where(run >= 3, KINDS.index("drift"), k)
        k = np.where((run >= 3) & (t.type_code[s] == TEMPERATURE) & (zp > 0), KINDS.index("overheat"), k)
        k = np.where((run < 3) & (np.abs(dz[p]) >= self.config.z_screen), KINDS.index("spike"), k)
        k = np.where((value[p] == 0.0) & (np.abs(zp) >= self.config.z_screen), KINDS.index("dropout"), k)
        stuck_code: I64 = np.where(stuck[p], KINDS.index("stuck"), k)
        return stuck_code

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
