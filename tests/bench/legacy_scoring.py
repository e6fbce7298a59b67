"""The processor's detector before issue 13 (3cd2e89), kept only as the speed reference of tests/bench/scoring.py."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from gridwatch.common.schema import SENSOR_TYPES, SensorType, Status
from sklearn.ensemble import IsolationForest

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
STATUSES: tuple[Status, ...] = (Status.NORMAL, Status.WARNING, Status.CRITICAL)
KINDS: tuple[str, ...] = ("", "spike", "drift", "stuck", "overheat", "dropout", "deviation")
TEMPERATURE = SENSOR_TYPES.index(SensorType.TEMPERATURE)


@dataclass(frozen=True)
class ScoringConfig:
    """Thresholds and rates of the scorer (see docs/scoring.md for the formulas)."""

    alpha: float = 0.05
    warmup: int = 20
    z_screen: float = 3.0
    z_anomaly: float = 4.5
    hazard_weight: float = 0.35
    hazard_tau_s: float = 30.0
    warning_probability: float = 0.3
    critical_probability: float = 0.8
    forest_trees: int = 100
    forest_train_rows: int = 20_000
    forest_retrain_rows: int = 2_000_000
    seed: int = 7


def failure_probability(hazard: F64) -> F64:
    """p = 1 - exp(-h): bounded in [0, 1) and increasing in the hazard h ≥ 0."""
    p: F64 = -np.expm1(-np.maximum(hazard, 0.0))
    return p


def next_hazard(hazard: F64, dt: F64, severity: F64, weight: float, tau: float) -> F64:
    """h' = h·exp(-dt/τ) + w·severity: grows with severity and persistence, decays once healthy."""
    out: F64 = hazard * np.exp(-np.maximum(dt, 0.0) / tau) + weight * severity
    return out


@dataclass
class SensorTable:
    """Per-sensor scoring state in parallel arrays, indexed by a dense sensor number."""

    ids: list[str] = field(default_factory=list)
    machines: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    capacity: int = 0
    mean: F64 = field(default_factory=lambda: np.zeros(0))
    var: F64 = field(default_factory=lambda: np.zeros(0))
    last_value: F64 = field(default_factory=lambda: np.zeros(0))
    last_ts: F64 = field(default_factory=lambda: np.zeros(0))
    count: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stuck_run: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    anomaly_run: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    anomalies: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hazard: F64 = field(default_factory=lambda: np.zeros(0))
    energy_kwh: F64 = field(default_factory=lambda: np.zeros(0))
    type_code: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shard: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # CRC-32 of the id: its partition key
    status: I64 = field(default_factory=lambda: np.full(0, -1, dtype=np.int64))
    stored_probability: F64 = field(default_factory=lambda: np.zeros(0))  # last written to the store, NaN: none

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
            ("stored_probability", np.nan),
        ):
            arr = getattr(self, name)
            new = np.full(cap, blank)
            new[: arr.size] = arr
            setattr(self, name, new)
        for name, fill in (
            ("count", 0),
            ("stuck_run", 0),
            ("anomaly_run", 0),
            ("anomalies", 0),
            ("type_code", 0),
            ("shard", 0),
            ("status", -1),
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


class Scorer:
    """Scores batches of readings with per-sensor baselines and an Isolation Forest."""

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self.table = SensorTable()
        self.forest: IsolationForest | None = None
        self.forest_threshold = 0.0
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
            s = sensor[p]
            x = value[p]
            m, v, c = t.mean[s], t.var[s], t.count[s]
            sd = np.maximum(np.sqrt(v), np.maximum(0.002 * np.abs(m), 1e-6))
            seen = c > 0
            zz = (x - m) / sd
            dd = np.where(seen, (x - t.last_value[s]) / sd, 0.0)
            st = seen & (x == t.last_value[s])
            w = c >= cfg.warmup
            z[p] = np.where(w, zz, 0.0)
            dz[p] = np.where(w, dd, 0.0)
            stuck[p] = st & w
            warm[p] = w
            dt[p] = np.where(seen, ts[p] - t.last_ts[s], 0.0)
            # robust baseline: suspicious readings barely move it, so drifts cannot drag it along
            suspicious = w & ((np.abs(zz) >= cfg.z_screen) | st)
            a = np.where(c < cfg.warmup, 1.0 / (c + 1.0), cfg.alpha)
            a = np.where(suspicious, a * 0.02, a)
            av = np.where(c < cfg.warmup, a, a * 0.5)
            d = x - m
            t.mean[s] = m + a * d
            t.var[s] = (1.0 - av) * (v + av * d * d)
            t.stuck_run[s] = np.where(st, t.stuck_run[s] + 1, 0)
            is_power = t.type_code[s] == power_code
            hours = np.minimum(dt[p], 300.0) / 3600.0
            energy_delta[p] = np.where(is_power & seen, x * hours, 0.0)
            power_delta[p] = np.where(is_power, x - np.where(seen, t.last_value[s], 0.0), 0.0)
            t.last_value[s] = x
            t.last_ts[s] = ts[p]
            t.count[s] = c + 1
        features = np.column_stack([np.clip(z, -50, 50), np.clip(dz, -50, 50), stuck.astype(np.float64)])
        score = np.clip(np.abs(z) / (2.0 * cfg.z_anomaly), 0.0, 0.999)
        score[stuck] = 1.0
        candidates = np.flatnonzero(warm & ((np.abs(z) >= cfg.z_screen) | stuck))
        if self.forest is not None and candidates.size:
            raw = -self.forest.score_samples(features[candidates])
            forest_score = np.clip(0.5 + (raw - self.forest_threshold) / (2 * (1.0 - self.forest_threshold)), 0, 1)
            score[candidates] = np.maximum(score[candidates], np.where(raw > self.forest_threshold, forest_score, 0))
        self._collect(features[warm])
        anomaly = score >= 0.5
        kind = np.zeros(n, dtype=np.int64)
        probability = np.zeros(n)
        status = np.zeros(n, dtype=np.int64)
        for p in slices:
            s = sensor[p]
            an = anomaly[p]
            run = np.where(an, t.anomaly_run[s] + 1, 0)
            t.anomaly_run[s] = run
            t.anomalies[s] += an
            h = next_hazard(t.hazard[s], dt[p], np.where(an, score[p], 0.0), cfg.hazard_weight, cfg.hazard_tau_s)
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

    def _classify(self, p: I64, s: I64, value: F64, z: F64, dz: F64, stuck: B, run: I64) -> I64:
        t = self.table
        zp = z[p]
        k = np.full(p.size, KINDS.index("deviation"), dtype=np.int64)
        k = np.where(run >= 3, KINDS.index("drift"), k)
        k = np.where((run >= 3) & (t.type_code[s] == TEMPERATURE) & (zp > 0), KINDS.index("overheat"), k)
        k = np.where((run < 3) & (np.abs(dz[p]) >= self.config.z_anomaly), KINDS.index("spike"), k)
        k = np.where((value[p] == 0.0) & (np.abs(t.mean[s]) > 0), KINDS.index("dropout"), k)
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
        forest = IsolationForest(
            n_estimators=self.config.forest_trees, max_samples=256, contamination=0.002, random_state=self.config.seed
        )
        forest.fit(rows)
        self.forest = forest
        self.forest_threshold = float(-forest.offset_)


def status_name(code: int) -> Status:
    """Status of a status code."""
    return STATUSES[code]
