"""The site's time zone through the real API on real PostgreSQL: local days (a 25-hour DST day), costs, actuals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.schema import SCHEMA_VERSION, EnrichedBatch, SensorType, Status
from gridwatch.history import partitions
from gridwatch.history.store import HistoryStore, Record

from tests.infra.services import Postgres, Redis
from tests.utils.workloads import Workload, free_port, wait_for

ZONE = "Europe/Berlin"
KW = 60.0  # one power sensor at 60 kW, a reading a minute: exactly 1 kWh per minute
PEAK, OFFPEAK = 0.32, 0.18  # peak 17-21 h local


def local(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(ZONE)).timestamp()


def seed(dsn: str, site: str, start: float, end: float) -> None:
    ts = [start + 60.0 * k for k in range(int((end - start) // 60))]
    n = len(ts)
    batch = EnrichedBatch(
        schema_version=SCHEMA_VERSION, site=site, sensor_ids=["m1-power"] * n, types=[SensorType.POWER] * n, ts=ts,
        values=[KW] * n, score=[0.1] * n, anomaly=[False] * n, failure_probability=[0.05] * n,
        status=[Status.NORMAL] * n, label=[""] * n, energy_kwh=[KW / 60.0] * n,
    )  # fmt: skip
    with connect(dsn, "test") as conn:
        migrate(conn)
        if partitions.storage_kind(conn) == "partitioned":
            partitions.ensure_days(conn, {partitions.day_of(t) for t in ts[::60]})
        assert HistoryStore(conn, site).write(f"{site}.enriched", [Record(0, 0, batch)]).readings == n


def expected_day_cost(hours: int) -> float:
    """A local day at constant power: 4 peak hours, the rest off-peak (the DST hour falls outside the peak)."""
    return 4 * KW * PEAK + (hours - 4) * KW * OFFPEAK


@pytest.fixture
def api(postgres: Postgres, redis_server: Redis, site: str, tmp_path: Path) -> Iterator[str]:
    """An API of a site in Berlin, with three days of history around the October 2026 fall-back."""
    seed(postgres.dsn, site, local("2026-10-24T00:00"), local("2026-10-27T00:00"))
    port = free_port()
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_API_PORT": str(port),
        "GRIDWATCH_METRICS_PORT": str(free_port()),
        "GRIDWATCH_TIMEZONE": ZONE,
        "GRIDWATCH_ANALYTICS_TARIFF_CURRENCY": "EUR",
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_PRICE": str(PEAK),
        "GRIDWATCH_ANALYTICS_TARIFF_OFFPEAK_PRICE": str(OFFPEAK),
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_START_HOUR": "17",
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_END_HOUR": "21",
    }
    proc = Workload("api", env, tmp_path).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90, "API", logs=(proc,))
        yield base
    finally:
        proc.stop()


def test_history_days_costs_and_actuals_follow_the_site_zone(api: str) -> None:
    config = httpx.get(f"{api}/api/v1/site/config").json()
    assert config["timezone"] == ZONE and config["currency"] == "EUR"
    assert config["today_start"] <= config["now"] < config["today_start"] + 25 * 3600
    midnight = dt.datetime.fromtimestamp(config["today_start"], ZoneInfo(ZONE))
    assert (midnight.hour, midnight.minute) == (0, 0)

    window = {"from": str(local("2026-10-24T00:00")), "to": str(local("2026-10-27T00:00"))}
    days = httpx.get(f"{api}/api/v1/analytics/history", params={**window, "metric": "energy_kwh", "per": "day"}).json()
    assert days["timezone"] == ZONE and days["per"] == "day"
    assert [p["ts"] for p in days["points"]] == [local("2026-10-24T00:00"), local("2026-10-25T00:00"),
                                                 local("2026-10-26T00:00")]  # fmt: skip
    assert [round(p["value"], 6) for p in days["points"]] == [1440.0, 1500.0, 1440.0]  # the 25-hour day

    hours = httpx.get(
        f"{api}/api/v1/analytics/history",
        params={"from": str(local("2026-10-25T00:00")), "to": str(local("2026-10-26T00:00")),
                "metric": "energy_kwh", "per": "hour"},
    ).json()  # fmt: skip
    assert len(hours["points"]) == 25 and all(round(p["value"], 6) == 60.0 for p in hours["points"])

    cost = httpx.get(f"{api}/api/v1/analytics/energy", params={**window, "per": "day"}).json()
    assert cost["currency"] == "EUR" and cost["timezone"] == ZONE
    assert [b["end"] - b["start"] for b in cost["buckets"]] == [86400, 90000, 86400]
    assert [b["energy_kwh"] for b in cost["buckets"]] == pytest.approx([1440, 1500, 1440])
    assert [b["cost"] for b in cost["buckets"]] == pytest.approx(
        [expected_day_cost(24), expected_day_cost(25), expected_day_cost(24)]
    )
    assert cost["total_cost"] == pytest.approx(2 * expected_day_cost(24) + expected_day_cost(25))

    # one local evening: 16:00-22:00 is 1 off-peak hour, 4 peak hours, 1 off-peak hour
    evening = httpx.get(
        f"{api}/api/v1/analytics/energy",
        params={"from": str(local("2026-10-26T16:00")), "to": str(local("2026-10-26T22:00")), "per": "hour"},
    ).json()
    assert [b["cost"] for b in evening["buckets"]] == pytest.approx([KW * OFFPEAK] + [KW * PEAK] * 4 + [KW * OFFPEAK])

    actual = httpx.get(f"{api}/api/v1/forecast/actual", params={**window, "step": 900}).json()
    assert actual["unit"] == "kW" and len(actual["points"]) == 72 * 4 + 4  # 72 local hours + the repeated one
    assert all(p["kw"] == pytest.approx(KW) for p in actual["points"])

    for bad in ({"per": "week"}, {"per": "day", "step": "3600"}):
        r = httpx.get(f"{api}/api/v1/analytics/history", params={"metric": "energy_kwh", **bad})
        assert r.status_code == 422 and r.json()["detail"], r.text
    r = httpx.get(f"{api}/api/v1/forecast/actual", params={"scope": "machine"})
    assert r.status_code == 422 and "needs an id" in r.json()["detail"]


def test_an_unknown_zone_stops_the_api_with_a_clear_message(redis_server: Redis, site: str, tmp_path: Path) -> None:
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_API_PORT": str(free_port()),
        "GRIDWATCH_TIMEZONE": "Europe/Atlantis",
    }
    proc = Workload("api", env, tmp_path).start()
    try:
        assert proc.wait(60) != 0
        assert "unknown IANA time zone 'Europe/Atlantis'" in proc.log()
    finally:
        proc.stop()
