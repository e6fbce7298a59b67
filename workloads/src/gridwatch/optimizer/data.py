"""Inputs of the rules: machine power series and sensor health from PostgreSQL history and live Redis state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from gridwatch.common.state import SensorState
from gridwatch.optimizer.rules import MachineSeries, SensorHealth
from gridwatch.optimizer.settings import OptimizerSettings


def sensors_by_machine(states: Sequence[SensorState]) -> dict[str, list[str]]:
    """Sensor ids of each machine, sorted."""
    out: dict[str, list[str]] = defaultdict(list)
    for st in states:
        out[st.machine].append(st.id)
    return {m: sorted(ids) for m, ids in out.items()}


async def machine_series(
    conn: psycopg.AsyncConnection[TupleRow],
    site: str,
    states: Sequence[SensorState],
    s: OptimizerSettings,
    now: float,
) -> list[MachineSeries]:
    """Power per bucket (summed over each machine's power sensors) and mean output over the window."""
    since = now - s.window_hours * 3600.0
    machine_of = {st.id: st.machine for st in states}
    cur = await conn.execute(
        """
        SELECT sensor_id, floor(extract(epoch FROM minute) / %(b)s) * %(b)s AS bucket,
               sum(value_sum) / NULLIF(sum(readings), 0), sum(energy_kwh)
        FROM gw_history_minute
        WHERE site = %(site)s AND sensor_type = 'power' AND minute >= to_timestamp(%(since)s)
        GROUP BY 1, 2
        """,
        {"b": s.bucket_s, "site": site, "since": since},
    )
    per_machine: dict[str, dict[float, list[float]]] = defaultdict(dict)
    for sid, bucket, kw, kwh in await cur.fetchall():
        machine = machine_of.get(str(sid))
        if machine is None or kw is None:
            continue
        slot = per_machine[machine].setdefault(float(bucket), [0.0, 0.0])
        slot[0] += float(kw)
        slot[1] += float(kwh)
    cur = await conn.execute(
        """
        SELECT sensor_id, sum(value_sum) / NULLIF(sum(readings), 0) FROM gw_history_minute
        WHERE site = %s AND sensor_type = %s AND minute >= to_timestamp(%s) GROUP BY 1
        """,
        (site, s.output_type.value, since),
    )
    outputs: dict[str, list[float]] = defaultdict(list)
    for sid, mean in await cur.fetchall():
        machine = machine_of.get(str(sid))
        if machine is not None and mean is not None:
            outputs[machine].append(float(mean))
    sensors = sensors_by_machine(states)
    series: list[MachineSeries] = []
    for machine, buckets in sorted(per_machine.items()):
        ts = np.asarray(sorted(buckets), dtype=np.float64)
        kw = np.asarray([buckets[t][0] for t in ts.tolist()], dtype=np.float64)
        kwh = np.asarray([buckets[t][1] for t in ts.tolist()], dtype=np.float64)
        out = outputs.get(machine)
        series.append(
            MachineSeries(machine, sensors.get(machine, []), ts, kw, kwh, float(np.mean(out)) if out else None)
        )
    return series


async def sensor_health(
    conn: psycopg.AsyncConnection[TupleRow],
    site: str,
    states: Sequence[SensorState],
    s: OptimizerSettings,
    now: float,
) -> list[SensorHealth]:
    """Live failure probability with the trend window's per-bucket means and anomaly counts."""
    trend_s = s.trend_hours * 3600.0
    bucket = max(60, int(trend_s / 12) // 60 * 60)
    cur = await conn.execute(
        """
        SELECT sensor_id, floor(extract(epoch FROM minute) / %(b)s) * %(b)s AS bucket,
               sum(fp_sum) / NULLIF(sum(readings), 0), sum(anomalies), sum(readings)
        FROM gw_history_minute
        WHERE site = %(site)s AND minute >= to_timestamp(%(since)s)
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        {"b": bucket, "site": site, "since": now - trend_s},
    )
    trend: dict[str, list[tuple[float, float, int, int]]] = defaultdict(list)
    for sid, b, fp, anomalies, readings in await cur.fetchall():
        if fp is not None:
            trend[str(sid)].append((float(b), float(fp), int(anomalies), int(readings)))
    health: list[SensorHealth] = []
    for st in states:
        rows = trend.get(st.id, [])
        health.append(
            SensorHealth(
                st.id,
                st.machine,
                st.failure_probability,
                np.asarray([r[0] for r in rows], dtype=np.float64),
                np.asarray([r[1] for r in rows], dtype=np.float64),
                sum(r[2] for r in rows),
                sum(r[3] for r in rows),
            )
        )
    return health
