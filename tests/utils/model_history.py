"""History rows for the trainer's tests: per-sensor minute rollups with two readings each, as the writer leaves them."""

from __future__ import annotations

import math
import time

import numpy as np
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.history import partitions

STEP = 900.0


def load_kw(t: float, k: int) -> float:
    """Machine k's kW: a daily shape the forecasts can learn."""
    hour = (t % 86_400) / 3600.0
    return (50.0 + 20.0 * k) * (1.0 + 0.3 * math.sin(2 * math.pi * (hour - 8.0) / 24.0))


def seed(dsn: str, site: str, now: float, days: int = 9, machines: int = 4, seed: int = 0) -> int:
    """One row per sensor (a power and a temperature sensor per machine) and step over the last `days` days, with
    a little noise; every row holds a first and a last reading 30 s apart. Returns the rows written."""
    rng = np.random.default_rng(seed)
    end = math.floor(now / STEP) * STEP
    steps = np.arange(end - days * 86_400, end, STEP)
    per_sensor, per_type = [], []
    for t in steps:
        minute = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(t))
        kws = []
        for k in range(machines):
            kw = load_kw(t, k) * (1.0 + 0.01 * rng.normal())
            kw2 = kw * (1.0 + 0.01 * rng.normal())
            kws.append((kw + kw2) / 2)
            temp, temp2 = 40.0 + 0.1 * kw + rng.normal(), 40.0 + 0.1 * kw2 + rng.normal()
            for sid, kind, a, b in (
                (f"m{k:05d}-power", "power", kw, kw2),
                (f"m{k:05d}-temp", "temperature", temp, temp2),
            ):
                per_sensor.append((site, sid, kind, minute, 2, 0, a + b, min(a, b), max(a, b), t + 5.0, a, t + 35.0, b))
        per_type.append((site, "power", minute, machines, 2 * machines, 0, 2 * sum(kws), min(kws), max(kws), 0.0))
    with connect(dsn, "test") as conn:
        migrate(conn)
        if partitions.storage_kind(conn) == "partitioned":
            partitions.ensure_days(conn, set(range(partitions.day_of(steps[0]), partitions.day_of(steps[-1]) + 1)))
        with conn.cursor() as cur, conn.transaction():
            cur.executemany(
                "INSERT INTO gw_history_minute (site, sensor_id, sensor_type, minute, readings, anomalies, value_sum,"
                " value_min, value_max, first_ts, first_value, last_ts, last_value)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                per_sensor,
            )
            cur.executemany(
                "INSERT INTO gw_history_type_minute (site, sensor_type, minute, sensors, readings, anomalies,"
                " value_sum, value_min, value_max, energy_kwh) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                per_type,
            )
    return len(per_sensor)
