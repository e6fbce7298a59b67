"""The four suggestion rules as pure functions of machine series, sensor health and the tariff."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gridwatch.optimizer.settings import OptimizerSettings
from gridwatch.optimizer.tariff import Tariff, in_hours

F64 = npt.NDArray[np.float64]
KINDS = ("peak_shifting", "maintenance", "efficiency", "operational")


@dataclass(frozen=True)
class MachineSeries:
    """A machine's power history in equal buckets (sum over its power sensors) and its mean output."""

    machine: str
    sensors: list[str]
    ts: F64  # bucket starts, epoch seconds
    kw: F64  # mean power in the bucket
    kwh: F64  # energy in the bucket
    output: float | None = None  # mean of the output sensor type (e.g. pressure) over the window


@dataclass(frozen=True)
class SensorHealth:
    """Live risk of one sensor plus its recent trend from history."""

    sensor_id: str
    machine: str
    failure_probability: float
    trend_ts: F64  # bucket starts of the trend window
    trend_fp: F64  # mean failure probability per bucket
    anomalies: int  # over the trend window
    readings: int


@dataclass
class Suggestion:
    """One recommendation, as the API returns it."""

    id: str
    kind: str
    title: str
    description: str
    priority: float
    machine: str | None
    sensors: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)
    estimated_saving_kwh: float = 0.0
    estimated_saving_currency: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The suggestion as JSON-ready data."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
            "priority": round(self.priority, 1),
            "machine": self.machine,
            "sensors": self.sensors,
            "evidence": self.evidence,
            "estimated_saving_kwh": round(self.estimated_saving_kwh, 3),
            "estimated_saving_currency": round(self.estimated_saving_currency, 2),
        }


def money_priority(saving: float, ref: float) -> float:
    """0-100, saturating: a saving of `ref` (currency over the window) scores 50."""
    saving = max(saving, 0.0)
    return 100.0 * saving / (saving + ref)


def _prices(m: MachineSeries, tariff: Tariff) -> F64:
    return np.asarray([tariff.price_at(float(t)) for t in m.ts], dtype=np.float64)


def _window_hours(m: MachineSeries, bucket_s: float) -> float:
    return float(m.ts.size) * bucket_s / 3600.0


def peak_shifting(machines: Sequence[MachineSeries], tariff: Tariff, s: OptimizerSettings) -> list[Suggestion]:
    """Move flexible load out of the peak period.

    base_kw = P_q(kw) (q = base percentile); flexible = sum over peak buckets of kwh * max(0, 1 - base_kw / kw);
    shifted = flexible * shiftable_fraction; saving = shifted * (peak price - cheapest price); kWh saved = 0.
    """
    spread = tariff.peak_price - tariff.cheapest_price
    out: list[Suggestion] = []
    if spread <= 0:
        return out
    for m in machines:
        if m.kw.size == 0:
            continue
        peak = np.asarray([tariff.is_peak(float(t)) for t in m.ts], dtype=bool)
        if not peak.any():
            continue
        base_kw = float(np.percentile(m.kw, s.base_percentile))
        with np.errstate(divide="ignore", invalid="ignore"):
            flexible_share = np.where(m.kw > 0, np.clip(1.0 - base_kw / m.kw, 0.0, 1.0), 0.0)
        flexible = float((m.kwh * flexible_share)[peak].sum())
        shifted = flexible * s.shiftable_fraction
        saving = shifted * spread
        if shifted < s.min_saving_kwh or saving <= 0:
            continue
        peak_kwh = float(m.kwh[peak].sum())
        out.append(
            Suggestion(
                id=f"peak_shifting:{m.machine}",
                kind="peak_shifting",
                title=f"Shift flexible load of {m.machine} out of the peak",
                description=(
                    f"{m.machine} used {peak_kwh:.1f} kWh in the {tariff.peak_price:g} {tariff.currency}/kWh peak, "
                    f"{flexible:.1f} kWh of it above its base load of {base_kw:.1f} kW. Moving "
                    f"{s.shiftable_fraction:.0%} of that to {tariff.cheapest_price:g} {tariff.currency}/kWh hours "
                    f"saves about {saving:.2f} {tariff.currency}."
                ),
                priority=money_priority(saving, s.priority_ref),
                machine=m.machine,
                sensors=m.sensors,
                evidence={
                    "peak_kwh": round(peak_kwh, 3),
                    "total_kwh": round(float(m.kwh.sum()), 3),
                    "base_kw": round(base_kw, 3),
                    "flexible_kwh": round(flexible, 3),
                    "shifted_kwh": round(shifted, 3),
                    "peak_price": tariff.peak_price,
                    "cheapest_price": tariff.cheapest_price,
                    "window_hours": round(_window_hours(m, s.bucket_s), 2),
                },
                estimated_saving_kwh=0.0,
                estimated_saving_currency=saving,
            )
        )
    return out


def trend_per_hour(ts: F64, fp: F64) -> float:
    """Least-squares slope of failure probability per hour (0 with fewer than 3 points)."""
    if ts.size < 3 or float(np.ptp(ts)) <= 0:
        return 0.0
    hours = (ts - ts[0]) / 3600.0
    slope = float(np.polyfit(hours, fp, 1)[0])
    return slope if np.isfinite(slope) else 0.0


def maintenance(
    health: Sequence[SensorHealth], energy: dict[str, tuple[float, float]], s: OptimizerSettings, currency: str
) -> list[Suggestion]:
    """Machines whose sensors' failure probability is high or rising, or whose anomalies persist.

    Per sensor: projected = clip(fp + slope_per_hour * trend_hours, 0, 1); ratio = anomalies / readings;
    risk = max(fp, projected, ratio); flagged when fp >= fp_level, projected >= fp_level or ratio >= anomaly_ratio.
    Per machine: priority = 100 * max risk; saving_kwh = machine kWh * degradation_loss * max risk, priced at the
    machine's energy-weighted mean price (`energy` maps machine -> (kWh, cost)).
    """
    by_machine: dict[str, list[tuple[SensorHealth, float, float, float, float]]] = {}
    for h in health:
        slope = trend_per_hour(h.trend_ts, h.trend_fp)
        projected = float(np.clip(h.failure_probability + slope * s.trend_hours, 0.0, 1.0))
        ratio = h.anomalies / h.readings if h.readings else 0.0
        if h.failure_probability >= s.fp_level or projected >= s.fp_level or ratio >= s.anomaly_ratio:
            risk = max(h.failure_probability, projected, ratio)
            by_machine.setdefault(h.machine, []).append((h, slope, projected, ratio, risk))
    out: list[Suggestion] = []
    for machine, hits in by_machine.items():
        hits.sort(key=lambda x: -x[4])
        top = hits[0]
        risk = top[4]
        kwh, cost = energy.get(machine, (0.0, 0.0))
        saving_kwh = kwh * s.degradation_loss * risk
        price = cost / kwh if kwh > 0 else 0.0
        reasons = []
        for h, slope, projected, ratio, _ in hits:
            reasons.append(
                {
                    "sensor": h.sensor_id,
                    "failure_probability": round(h.failure_probability, 4),
                    "trend_per_hour": round(slope, 4),
                    "projected": round(projected, 4),
                    "anomaly_ratio": round(ratio, 4),
                }
            )
        h0 = top[0]
        out.append(
            Suggestion(
                id=f"maintenance:{machine}",
                kind="maintenance",
                title=f"Inspect {machine}",
                description=(
                    f"{len(hits)} sensor(s) of {machine} at risk; {h0.sensor_id} has failure probability "
                    f"{h0.failure_probability:.2f} (trend {top[1]:+.2f}/h) and anomalies in {top[3]:.0%} of recent "
                    f"readings. Degraded equipment wastes about {s.degradation_loss:.0%} of its energy."
                ),
                priority=100.0 * risk,
                machine=machine,
                sensors=[h.sensor_id for h, *_ in hits],
                evidence={"sensors": reasons, "machine_kwh": round(kwh, 3), "risk": round(risk, 4)},
                estimated_saving_kwh=saving_kwh,
                estimated_saving_currency=saving_kwh * price,
            )
        )
    return out


def peer_groups(machines: Sequence[MachineSeries], tolerance: float) -> list[list[MachineSeries]]:
    """Group machines whose mean output is within `tolerance` (relative) of the group's smallest."""
    ranked = sorted((m for m in machines if m.output is not None and m.output > 0), key=lambda m: m.output or 0.0)
    groups: list[list[MachineSeries]] = []
    for m in ranked:
        if groups and (m.output or 0.0) <= (groups[-1][0].output or 0.0) * (1.0 + tolerance):
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups


def efficiency(machines: Sequence[MachineSeries], tariff: Tariff, s: OptimizerSettings) -> list[Suggestion]:
    """Machines drawing more power than their peers for the same output.

    specific = mean kW / mean output; within a peer group (>= min_peers) excess = specific / median - 1;
    flagged when excess >= threshold; saving_kwh = kWh * (1 - median / specific), priced bucket by bucket.
    """
    out: list[Suggestion] = []
    for group in peer_groups(machines, s.peer_tolerance):
        if len(group) < s.min_peers:
            continue
        specific = {m.machine: float(m.kw.mean()) / (m.output or 1.0) for m in group if m.kw.size}
        if len(specific) < s.min_peers:
            continue
        median = float(np.median(list(specific.values())))
        if median <= 0:
            continue
        for m in group:
            sp = specific.get(m.machine)
            if sp is None:
                continue
            excess = sp / median - 1.0
            if excess < s.efficiency_threshold:
                continue
            share = 1.0 - median / sp
            saving_kwh = float(m.kwh.sum()) * share
            saving = float((m.kwh * _prices(m, tariff)).sum()) * share
            if saving_kwh < s.min_saving_kwh:
                continue
            out.append(
                Suggestion(
                    id=f"efficiency:{m.machine}",
                    kind="efficiency",
                    title=f"{m.machine} draws {excess:.0%} more power than its peers",
                    description=(
                        f"{m.machine} needs {sp:.2f} kW per unit of {s.output_type.value} against a median of "
                        f"{median:.2f} over {len(specific)} peers with similar output; matching them would save "
                        f"{saving_kwh:.1f} kWh."
                    ),
                    priority=money_priority(saving, s.priority_ref),
                    machine=m.machine,
                    sensors=m.sensors,
                    evidence={
                        "kw_per_output": round(sp, 4),
                        "peer_median": round(median, 4),
                        "excess": round(excess, 4),
                        "peers": sorted(specific),
                        "output": round(m.output or 0.0, 4),
                        "output_type": s.output_type.value,
                        "kwh": round(float(m.kwh.sum()), 3),
                    },
                    estimated_saving_kwh=saving_kwh,
                    estimated_saving_currency=saving,
                )
            )
    return out


def operational(machines: Sequence[MachineSeries], tariff: Tariff, s: OptimizerSettings) -> list[Suggestion]:
    """Out-of-hours consumption and idle running.

    Out of hours: flagged when mean kW outside working hours >= ratio * mean kW inside; saving = sum over those
    buckets of kwh * max(0, 1 - off_kw / kw). Idle: buckets with off_kw < kw <= idle_fraction * P95(kw), flagged
    from min_idle_hours; saving = the same sum over idle buckets. Both priced bucket by bucket.
    """
    out: list[Suggestion] = []
    hours_b = s.bucket_s / 3600.0

    def above_off(m: MachineSeries, mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(m.kw > 0, np.clip(1.0 - s.off_kw / m.kw, 0.0, 1.0), 0.0)
        kwh = m.kwh * share
        return float(kwh[mask].sum()), float((kwh * _prices(m, tariff))[mask].sum())

    check: Callable[[float], bool] = lambda t: in_hours(  # noqa: E731
        t, tariff.zone, s.work_start_hour, s.work_end_hour, s.work_days
    )
    for m in machines:
        if m.kw.size == 0:
            continue
        inside = np.asarray([check(float(t)) for t in m.ts], dtype=bool)
        outside = ~inside
        if inside.any() and outside.any():
            kw_in, kw_out = float(m.kw[inside].mean()), float(m.kw[outside].mean())
            if kw_out > s.off_kw and kw_out >= s.out_of_hours_ratio * kw_in:
                saving_kwh, saving = above_off(m, outside)
                if saving_kwh >= s.min_saving_kwh:
                    out.append(
                        Suggestion(
                            id=f"operational:out_of_hours:{m.machine}",
                            kind="operational",
                            title=f"{m.machine} keeps running out of hours",
                            description=(
                                f"{m.machine} draws {kw_out:.1f} kW outside working hours, {kw_out / kw_in:.0%} of "
                                f"its {kw_in:.1f} kW during them; switching it off saves {saving_kwh:.1f} kWh."
                            ),
                            priority=money_priority(saving, s.priority_ref),
                            machine=m.machine,
                            sensors=m.sensors,
                            evidence={
                                "kw_in_hours": round(kw_in, 3),
                                "kw_out_of_hours": round(kw_out, 3),
                                "out_of_hours_kwh": round(float(m.kwh[outside].sum()), 3),
                                "hours_out_of_hours": round(float(outside.sum()) * hours_b, 2),
                            },
                            estimated_saving_kwh=saving_kwh,
                            estimated_saving_currency=saving,
                        )
                    )
        p95 = float(np.percentile(m.kw, 95))
        idle = (m.kw > s.off_kw) & (m.kw <= s.idle_fraction * p95)
        idle_hours = float(idle.sum()) * hours_b
        if idle_hours >= s.min_idle_hours:
            saving_kwh, saving = above_off(m, idle)
            if saving_kwh >= s.min_saving_kwh:
                out.append(
                    Suggestion(
                        id=f"operational:idle:{m.machine}",
                        kind="operational",
                        title=f"{m.machine} idles while switched on",
                        description=(
                            f"{m.machine} ran {idle_hours:.1f} h at or below {s.idle_fraction:.0%} of its "
                            f"{p95:.1f} kW working load; switching it off when idle saves {saving_kwh:.1f} kWh."
                        ),
                        priority=money_priority(saving, s.priority_ref),
                        machine=m.machine,
                        sensors=m.sensors,
                        evidence={
                            "idle_hours": round(idle_hours, 2),
                            "p95_kw": round(p95, 3),
                            "idle_kw_limit": round(s.idle_fraction * p95, 3),
                            "idle_kwh": round(float(m.kwh[idle].sum()), 3),
                        },
                        estimated_saving_kwh=saving_kwh,
                        estimated_saving_currency=saving,
                    )
                )
    return out


def energy_cost(machines: Sequence[MachineSeries], tariff: Tariff) -> dict[str, tuple[float, float]]:
    """Per machine: (kWh, cost) over the window."""
    return {m.machine: (float(m.kwh.sum()), float((m.kwh * _prices(m, tariff)).sum())) for m in machines}
