"""The scorer's per-reading loops compiled with numba: one pass over a batch in (sensor, time) order.

`scoring.Scorer` keeps the per-sensor state in arrays (`SensorTable`) and the formulas' documentation; these two
functions run the same formulas one reading at a time, so a batch costs one compiled loop instead of ~150 numpy
calls per rank of readings. Sensors are independent, so readings in (sensor, time) order give exactly what the
rank-by-rank vectorized form gave (tests/unit/common/test_scoring_golden.py pins the outputs).

Compiled code is cached (`cache=True`): next to this file when it is writable (a checkout), else in
`NUMBA_CACHE_DIR`. The workloads image is read-only and compiles the loops when it is built, into
`GRIDWATCH_NUMBA_SEED`; `seed_cache` copies them into the writable `NUMBA_CACHE_DIR` (the pod's /tmp) before the
first batch, so a new processor loads them (well under a second) instead of compiling (3-4 s of CPU, half a minute
at a tenth of a core). On a CPU other than the build's, numba compiles as if there were no cache.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping
from typing import Any

from numba import njit


def seed_cache(environ: Mapping[str, str] = os.environ) -> bool:
    """Copy the loops compiled into the image (`GRIDWATCH_NUMBA_SEED`) to `NUMBA_CACHE_DIR`; True if copied."""
    seed, cache = environ.get("GRIDWATCH_NUMBA_SEED", ""), environ.get("NUMBA_CACHE_DIR", "")
    if not seed or not cache or not os.path.isdir(seed):
        return False
    try:
        shutil.copytree(seed, cache, dirs_exist_ok=True)
    except OSError:  # then numba compiles: slower to start, not wrong
        return False
    return True


seed_cache()

LN10 = math.log(10.0)
LN2 = math.log(2.0)
SQRT1_2 = math.sqrt(0.5)
LOG_SQRT_PI = 0.5 * math.log(math.pi)
SEASON_SECONDS = 86400.0


@njit(cache=True, nogil=True)
def log_ndtr_neg(u: float) -> float:
    """log P(Z <= -u) for u >= 0 (scipy's log_ndtr(-u)): erfc while it does not underflow, else its expansion."""
    y = u * SQRT1_2
    if y < 26.0:
        return math.log(0.5 * math.erfc(y))
    # erfc(y) = exp(-y^2) / (y sqrt(pi)) * (1 - 1/(2y^2) + 3/(2y^2)^2 - 15/(2y^2)^3 ...)
    inv = 1.0 / (2.0 * y * y)
    series = 1.0
    term = 1.0
    for k in range(1, 8):
        term *= -(2 * k - 1) * inv
        series += term
    return -y * y - math.log(y) - LOG_SQRT_PI + math.log(series) - LN2


@njit(cache=True, nogil=True)
def logaddexp(x: float, y: float) -> float:
    """log(exp(x) + exp(y)) as numpy computes it."""
    if x == y:
        return x + LN2
    d = x - y
    if d > 0:
        return x + math.log1p(math.exp(-d))
    if d <= 0:
        return y + math.log1p(math.exp(d))
    return d  # NaN


@njit(cache=True, nogil=True)
def failure_probability(hazard: float) -> float:
    """p = 1 - exp(-h): bounded in [0, 1) and increasing in the hazard h >= 0."""
    return -math.expm1(-max(hazard, 0.0))


@njit(cache=True, nogil=True)
def next_hazard(hazard: float, steps: float, severity: float, weight: float, tau: float, recovery: float) -> float:
    """h' = h*exp(-n/tau) + w*severity, n and tau in readings: grows with severity and persistence, decays when healthy.

    A normal reading (severity 0) decays with `recovery` instead of tau: faults end abruptly, so a probability that
    lingers for tau readings after the signal is healthy again is badly calibrated.
    """
    n = max(steps, 0.0)
    return hazard * math.exp(-n / (tau if severity > 0 else recovery)) + weight * severity


@njit(cache=True, nogil=True)
def rate(readings: float, steps: float) -> float:
    """EWMA weight of a time constant of `readings` readings after `steps` readings' worth of time."""
    return -math.expm1(steps * math.log1p(-1.0 / readings))


@njit(cache=True, nogil=True)
def learn(
    sensor: Any,
    ts: Any,
    value: Any,
    cfg: Any,
    tail_levels: Any,
    power_code: int,
    # state (SensorTable), updated in place
    mean: Any,
    var: Any,
    last_value: Any,
    last_ts: Any,
    count: Any,
    stuck_run: Any,
    shift_run: Any,
    log_cadence: Any,
    repeat_rate: Any,
    quantum: Any,
    shift_sum: Any,
    long_mean: Any,
    long_var: Any,
    anchor: Any,
    long_run: Any,
    evidence_level: Any,
    run_evidence: Any,
    season: Any,
    season_weight: Any,
    season_var: Any,
    exceed: Any,
    type_code: Any,
    energy_kwh: Any,
    evident_run: Any,
    # outputs, one per reading
    z: Any,
    dz: Any,
    steps: Any,
    log_tail: Any,
    log_rel: Any,
    stuck: Any,
    warm: Any,
    energy_delta: Any,
    power_delta: Any,
) -> None:
    """Score each reading against its sensor's state, then learn from it (formulas: scoring.Scorer, docs/scoring.md).

    `cfg` holds, in order: warmup, level_readings, scale_readings, season_days, cadence_readings, max_gap_readings,
    z_screen, shift_readings, history_readings, repeat_readings, likelihood_decades, tail_readings, tail_prior,
    flagged_weight, relative_floor, anchor_readings, anchor_z, anchor_quiet, evidence_quantile, evidence_step,
    run_decay.
    """
    warmup = cfg[0]
    level_readings = cfg[1]
    scale_readings = cfg[2]
    season_days = cfg[3]
    cadence_readings = cfg[4]
    max_gap = cfg[5]
    z_screen = cfg[6]
    shift_readings = cfg[7]
    history_readings = cfg[8]
    repeat_readings = cfg[9]
    decades = cfg[10]
    tail_readings = cfg[11]
    tail_prior = cfg[12]
    flagged_weight = cfg[13]
    relative_floor = cfg[14]
    anchor_readings = cfg[15]
    anchor_z = cfg[16]
    anchor_quiet = cfg[17]
    quantile = cfg[18]
    q_step = cfg[19]
    run_decay = cfg[20]
    bins = season.shape[1]
    levels = tail_levels.size
    bin_seconds = SEASON_SECONDS / bins
    for i in range(sensor.size):
        s = sensor[i]
        x = value[i]
        t = ts[i]
        c = count[s]
        seen = c > 0
        # cadence: a robust running log-mean of the sampling interval; a gap counts as the readings it missed
        gap = max(t - last_ts[s], 1e-6) if seen else 0.0
        lg = math.log(max(gap, 1e-6))
        lc = log_cadence[s]
        known = c >= 2
        k = min(max(math.exp(lg - lc), 0.0), max_gap) if known else 1.0
        a_cad = max(1.0 / max(c, 1), 1.0 / cadence_readings)
        if not seen:
            new_lc = 0.0
        elif c == 1:
            new_lc = lg
        else:
            new_lc = lc + a_cad * (min(max(lg, lc - 1.4), lc + 1.4) - lc)
        log_cadence[s] = new_lc
        steps[i] = max(k, 1e-3) if seen else 0.0
        # prediction: level + time-of-day profile (the profile only counts once its bin has learnt)
        b = int((t % SEASON_SECONDS) // bin_seconds)
        sw = season_weight[s, b]
        sv = season[s, b]
        seas = sv * min(sw, 1.0)
        s_sd = math.sqrt(season_var[s, b]) if sw >= 1.0 else 0.0  # the bin's own spread, once it has seen a day
        level = mean[s] if seen else x
        pred = level + seas
        r = x - pred
        q = quantum[s]
        scale = math.sqrt(var[s])
        floor = max(0.5 * q, 1e-9 + relative_floor * abs(pred))  # integer data: at least 0.5
        sd = max(scale, floor)
        zz = r / sd
        w = c >= warmup
        # back to normal: a reading far from the level but close to the level the sensor had before its latest
        # episode (the anchor) is the end of that episode, not a new one; the level returns to the anchor
        anc = anchor[s]
        if math.isnan(anc):  # not known yet (a sensor restored without its model): the level it has now
            anc = level
            anchor[s] = anc
        if w and abs(zz) >= z_screen and abs(x - anc - seas) < anchor_z * max(scale, floor):
            level = anc
            pred = level + seas
            r = x - pred
            zz = r / sd
        prev = last_value[s]
        z[i] = zz if w else 0.0
        dz[i] = (x - prev) / sd if (w and seen) else 0.0
        warm[i] = w
        # stuck: an exact repeat of a non-zero value is evidence in proportion to how rarely this sensor repeats
        rep = seen and x == prev
        run = stuck_run[s] + 1 if (rep and x != 0.0) else 0
        # runs as long as the sensor's own recent long runs (a daily idle level, a slow counter) are not evidence
        lr = long_run[s] * (1.0 - 1.0 / (4.0 * repeat_readings))
        if run == 0 and stuck_run[s] > lr:
            lr = float(stuck_run[s])
        long_run[s] = lr
        stuck_run[s] = run
        rr = repeat_rate[s]
        a_rep = 1.0 / (c + 1.0) if c < warmup else 1.0 / repeat_readings
        before = (rr - a_rep) / max(1.0 - a_rep, 1e-9) if run >= 2 else rr
        usual = min(lr * before, run - 1.0) if run >= 1 else 0.0  # long runs are usual where repeats are common
        log_stuck = -(run - usual) * math.log10(max(before, 1e-10))
        learn_rep = seen and (run <= 1 or c < warmup or run > repeat_readings)
        if learn_rep:
            repeat_rate[s] = rr + a_rep * ((1.0 if rep else 0.0) - rr)
        st = w and run >= 1 and log_stuck >= decades
        stuck[i] = st
        # long-run distribution of the deseasonalised value: sustained deviations and slow changes
        lm = long_mean[s]
        lv = long_var[s]
        dl = x - seas - lm if seen else 0.0
        zlong = dl / max(math.sqrt(lv), floor, s_sd)  # a regular daily spike or a noisy hour is not a deviation
        a_lg = 1.0 / (c + 1.0) if c < warmup else 1.0 / history_readings
        if seen:
            long_mean[s] = lm + a_lg * dl
            long_var[s] = (1.0 - a_lg) * (lv + a_lg * dl * dl)
        else:
            long_mean[s] = x - seas
            long_var[s] = 0.0
        d_long = -(log_ndtr_neg(min(abs(zlong), 1e6)) + LN2) / LN10
        # the residual against the level, judged by this sensor's own exceedance rates (Scorer._empirical_tail)
        uu = min(abs(zz), 1e6)
        pos = min(max(2.0 * math.log2(max(uu, 1e-12)) - 2.0, 0.0), levels - 1.0)
        j = min(int(pos), levels - 2)
        frac = pos - j
        lo = exceed[s, j]
        hi = exceed[s, j + 1]
        if uu >= tail_levels[levels - 1]:
            rt = hi
        elif uu < tail_levels[0]:
            rt = 1.0
        else:
            rt = lo + frac * (hi - lo)
        learnt = float(max(c - warmup, 0))
        n_eff = min(learnt, tail_readings)
        log_g = log_ndtr_neg(uu) + LN2
        total = n_eff + tail_prior
        mass = n_eff * rt / total
        prior = log_g + math.log(tail_prior / total)
        log_p = logaddexp(math.log(mass), prior) if mass > 0 else prior
        tail = -log_p / LN10
        a_t = 0.0 if c < warmup else max(1.0 / (learnt + 1.0), 1.0 / tail_readings)
        evident = max(tail, d_long) >= decades
        if evident:  # a flagged episode teaches as much as `flagged_weight` readings, once, even early in life
            a_t = min(a_t, 1.0 / tail_readings) * flagged_weight if evident_run[s] == 0 else 0.0
        evident_run[s] = evident_run[s] + 1 if evident else 0
        for lv_i in range(levels):
            ex = exceed[s, lv_i]
            exceed[s, lv_i] = ((1.0 if uu >= tail_levels[lv_i] else 0.0) - ex) * a_t + ex
        d_fast = max(tail, 0.0)
        # a run of suspicious readings on one side adds up (geometrically fading): a sustained excursion is more
        # evidence than any one of its readings, an isolated blip is not
        suspicious = w and abs(zz) >= z_screen
        side = 1 if zz > 0 else (-1 if zz < 0 else 0)
        sr = shift_run[s]
        sr_sign = 1 if sr > 0 else (-1 if sr < 0 else 0)
        same = suspicious and sr_sign == side  # continues the current run (also the level-shift count below)
        evidence = max(d_long, d_fast)
        if st:
            evidence = max(evidence, log_stuck)
        if same:
            acc = run_evidence[s] * run_decay + evidence
        elif suspicious:
            acc = evidence
        else:
            acc = 0.0
        run_evidence[s] = acc
        sustained = max(evidence, acc)  # judged by the anomaly score only: the flag stays per reading
        # judged against this sensor's own high quantile of evidence: what it shows often is not an anomaly for it
        el = evidence_level[s]
        usual_evidence = max(math.expm1(el), decades)
        log_tail[i] = evidence if w else 0.0
        log_rel[i] = sustained * decades / usual_evidence if w else 0.0
        if w:
            up = math.log1p(max(evidence, 0.0)) > el
            evidence_level[s] = max(el + q_step * (quantile if up else quantile - 1.0), 0.0)
        # learning: suspicious readings barely move the baseline; a run of them on one side is a level shift
        if same:
            sr = sr + side
            ssum = shift_sum[s] + r
        elif suspicious:
            sr = side
            ssum = r
        else:
            sr = 0
            ssum = 0.0
        # absorbed only if steady: the latest residual agrees with the run's mean (a ramp keeps being flagged)
        steady = abs(r - ssum / max(abs(sr), 1)) < z_screen * sd
        shifted = abs(sr) >= shift_readings and steady
        a_l = 1.0 / (c + 1.0) if c < warmup else rate(level_readings, max(k, 1.0))
        if suspicious:
            a_l = a_l * 0.02
        if not seen or shifted:
            mean[s] = x - seas  # first reading, or absorbed: the new level is the latest reading
        else:
            mean[s] = level + a_l * r
        # the anchor: a slower copy of the level that follows only quiet readings, so it holds the pre-episode level
        if not w:
            anchor[s] = mean[s]
        elif not suspicious and evidence < anchor_quiet * decades and not shifted and sr == 0:
            anchor[s] = anc + rate(anchor_readings, max(k, 1.0)) * (mean[s] - anc)
        shift_run[s] = 0 if shifted else sr
        shift_sum[s] = 0.0 if shifted else ssum
        a_v = 1.0 / (c + 1.0) if c < warmup else rate(scale_readings, max(k, 1.0))
        if suspicious:
            a_v = a_v * 0.02
        if seen:
            rc = min(abs(r), z_screen * sd)
            var[s] = (1.0 - a_v) * scale * scale + a_v * rc * rc
        else:
            var[s] = 0.0
        # the profile learns the residual of its bin; a bin's weight grows with the days it has seen
        cad = math.exp(new_lc)
        per_bin = max(bin_seconds / max(cad, 1e-3), 1.0)  # visits of a bin per day
        a_b = -math.expm1(math.log1p(-1.0 / (season_days * per_bin)))
        if seen and not suspicious and known:
            season[s, b] = sv + a_b * (x - level - sv)
            season_weight[s, b] = sw + 1.0 / per_bin
        if seen and known:  # every reading, suspicious or not: a spike that recurs daily must be learnt
            rb = x - level - sv
            season_var[s, b] += a_b * (rb * rb - season_var[s, b])
        dx = abs(x - prev)
        if seen and dx > 0:
            quantum[s] = min(q, dx) if q > 0 else dx
        # energy and power deltas of power sensors
        if type_code[s] == power_code:
            energy_delta[i] = x * (min(gap, 300.0) / 3600.0) if seen else 0.0
            power_delta[i] = x - (prev if seen else 0.0)
        last_value[s] = x
        last_ts[s] = t
        count[s] = c + 1
    for i in range(sensor.size):
        energy_kwh[sensor[i]] += energy_delta[i]


@njit(cache=True, nogil=True)
def episode_kind_of(
    run: int, before: int, x: float, zz: float, dzz: float, stuck: bool, temperature: bool, z_screen: float, kinds: Any
) -> int:
    """Kind of an anomalous reading, the `run`-th of its episode, from what the episode was so far (`before`).

    `kinds`: the codes of deviation, drift, overheat, spike, dropout and stuck. An episode that starts with a sudden
    jump (a change from the previous reading of at least 3 z_screen scales that is most of the residual) is a spike
    for up to 3 readings, even while the spiked value is held, unless it keeps moving away (a ramp: drift); a sudden
    0 is a dropout and stays one while the value is 0; a repeat of a value near the level is stuck; 3 or more
    anomalies that are none of these are drift (overheat for a hot temperature). A drift that ends at 0 stays a drift.
    """
    deviation, drift, overheat = int(kinds[0]), int(kinds[1]), int(kinds[2])
    spike, dropout, stuck_code = int(kinds[3]), int(kinds[4]), int(kinds[5])
    ramp = before in (drift, overheat)
    if stuck and abs(zz) < z_screen:
        return stuck_code
    if x == 0.0 and abs(zz) >= z_screen and not ramp:
        return dropout
    sudden = abs(dzz) >= 3.0 * z_screen and abs(dzz) >= 0.6 * abs(zz)
    if run == 1:
        return spike if sudden else deviation
    if before == spike and run <= 3:
        # a spike holds its value or falls back; a value that keeps moving away by more than z_screen is a ramp
        if dzz * zz > 0 and abs(dzz) >= z_screen:
            return overheat if temperature and zz > 0 else drift
        return spike
    if run >= 3 or ramp:
        return overheat if temperature and zz > 0 else drift
    return deviation


@njit(cache=True, nogil=True)
def judge(
    sensor: Any,
    value: Any,
    score: Any,
    likelihood: Any,
    z: Any,
    dz: Any,
    steps: Any,
    stuck: Any,
    cfg: Any,
    temperature_code: int,
    kinds: Any,
    # state, updated in place
    anomaly_run: Any,
    episode_kind: Any,
    since_alarm: Any,
    anomalies: Any,
    hazard: Any,
    type_code: Any,
    # outputs
    alarm: Any,
    anomaly: Any,
    kind: Any,
    probability: Any,
    status: Any,
) -> None:
    """Flags, the hazard and failure probability, status, kind and alarm score of each reading, in (sensor, time) order.

    `score` is the reading's own evidence (the flag, the hazard), `likelihood` the same judged against the sensor's
    evidence quantile. `alarm` is the likelihood, except that a reading at the threshold after fewer than alarm_gap
    readings below it continues the previous alarm: it scores just below the threshold, fading.
    `cfg`: threshold, hazard_weight, hazard_readings, recovery_readings, warning_probability, critical_probability,
    z_screen, alarm_gap. `kinds`: the codes of deviation, drift, overheat, spike, dropout and stuck.
    """
    threshold = cfg[0]
    weight = cfg[1]
    tau = cfg[2]
    recovery = cfg[3]
    warning = cfg[4]
    critical = cfg[5]
    z_screen = cfg[6]
    gap = cfg[7]
    for i in range(sensor.size):
        s = sensor[i]
        an = score[i] >= threshold
        anomaly[i] = an
        hot = likelihood[i] >= threshold
        since = since_alarm[s]
        if hot and since < gap:  # the same alarm goes on: ranked below every new one, fading
            alarm[i] = min(likelihood[i], threshold) * 0.99 * 0.9 ** min(anomaly_run[s], 200)
        else:
            alarm[i] = likelihood[i]
        since_alarm[s] = 0 if hot else min(since + 1, 1_000_000)  # saturates at scoring.NO_ALARM
        run = anomaly_run[s] + 1 if an else 0
        anomaly_run[s] = run
        if an:
            anomalies[s] += 1
        severity = score[i] if an else 0.0
        h = next_hazard(hazard[s], steps[i], severity, weight, tau, recovery)
        hazard[s] = h
        p = failure_probability(h)
        probability[i] = p
        if p >= critical:
            status[i] = 2
        elif p >= warning or an:
            status[i] = 1
        else:
            status[i] = 0
        if not an:
            kind[i] = 0
            episode_kind[s] = 0
            continue
        kind[i] = episode_kind_of(
            run, episode_kind[s], value[i], z[i], dz[i], stuck[i], type_code[s] == temperature_code, z_screen, kinds
        )
        episode_kind[s] = kind[i]
