"""Today's energy and cost agree between GET /api/v1/analytics/energy and what a real Prometheus scraped from the API.

Real PostgreSQL (history seeded through the history writer), Redis, the API as a process and Debian's Prometheus.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from gridwatch.dashboards.queries import expand, panel_queries

from tests.infra.services import Postgres, Prometheus, Redis
from tests.integration.test_site_time import KW, seed
from tests.utils.workloads import Workload, free_port, wait_for

OVERVIEW = Path(__file__).resolve().parents[2] / "charts" / "energy-site" / "dashboards" / "site-overview.json"
PEAK, OFFPEAK = 0.3217, 0.1873  # sub-cent prices, so a cost rounded differently in one place would show
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Auckland")


def zone_with_a_morning_behind_it(now: float) -> str:
    """A zone where today already has a few local hours, so there is something to price."""
    return next(z for z in ZONES if dt.datetime.fromtimestamp(now, ZoneInfo(z)).hour >= 3)


def price_of(ts: float, zone: str) -> float:
    """The tariff the API is given: peak 17-21 h local."""
    return PEAK if 17 <= dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).hour < 21 else OFFPEAK


@dataclass
class Priced:
    api: str
    prometheus: Prometheus
    site: str
    zone: str
    expected_kwh: float
    expected_cost: float


@pytest.fixture
def priced(postgres: Postgres, redis_server: Redis, site: str, tmp_path: Path) -> Iterator[Priced]:
    now = time.time()
    zone = zone_with_a_morning_behind_it(now)
    midnight = dt.datetime.fromtimestamp(now, ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight.timestamp()
    end = (now // 60 - 2) * 60  # whole minutes, ending before the API's "now": today's figure stays put
    seed(postgres.dsn, site, start - 3 * 3600, end)  # yesterday's last hours must not count
    minutes = [start + 60.0 * k for k in range(int((end - start) // 60))]
    expected_kwh = KW / 60.0 * len(minutes)
    expected_cost = sum(KW / 60.0 * price_of(t, zone) for t in minutes)
    port = free_port()
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_API_PORT": str(port),
        "GRIDWATCH_METRICS_PORT": str(free_port()),
        "GRIDWATCH_TIMEZONE": zone,
        "GRIDWATCH_API_ENERGY_TODAY_INTERVAL_S": "2",
        "GRIDWATCH_ANALYTICS_TARIFF_CURRENCY": "CHF",
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_PRICE": str(PEAK),
        "GRIDWATCH_ANALYTICS_TARIFF_OFFPEAK_PRICE": str(OFFPEAK),
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_START_HOUR": "17",
        "GRIDWATCH_ANALYTICS_TARIFF_PEAK_END_HOUR": "21",
    }
    proc = Workload("api", env, tmp_path).start()
    prometheus = Prometheus(tmp_path / "prometheus", targets={"api": [f"127.0.0.1:{port}"]})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90, "API", logs=(proc,))
        prometheus.start()
        prometheus.wait_for_targets(timeout=60, healthy=True)
        yield Priced(base, prometheus, site, zone, expected_kwh, expected_cost)
    finally:
        prometheus.stop()
        proc.stop()


def test_prometheus_stores_the_cost_and_energy_the_api_answers(priced: Priced) -> None:
    cost_q = f'max by (site, currency) (gridwatch_api_site_cost_today{{site="{priced.site}"}})'
    energy_q = f'max by (site) (gridwatch_api_site_energy_today_joules{{site="{priced.site}"}})'
    wait_for(lambda: bool(priced.prometheus.query(cost_q)), 90, "today's cost in Prometheus", interval=1)

    answer = httpx.get(f"{priced.api}/api/v1/analytics/energy").json()
    (cost,) = priced.prometheus.query(cost_q)
    (energy,) = priced.prometheus.query(energy_q)

    # the seeded history, priced independently: the API and the metric are not both wrong the same way
    assert answer["timezone"] == priced.zone and answer["currency"] == "CHF"
    assert answer["total_energy_kwh"] == pytest.approx(priced.expected_kwh)
    assert answer["total_cost"] == pytest.approx(priced.expected_cost)
    assert priced.expected_cost > 1.0

    # the figure Prometheus stored is the API's, to the cent, in the tariff's currency
    assert cost["metric"]["currency"] == answer["currency"]
    assert round(float(cost["value"][1]), 2) == round(answer["total_cost"], 2)
    assert float(energy["value"][1]) == pytest.approx(answer["total_energy_kwh"] * 3.6e6, rel=1e-9)
    (day,) = priced.prometheus.query(f'gridwatch_api_site_day_start_timestamp_seconds{{site="{priced.site}"}}')
    assert float(day["value"][1]) == answer["from"]

    # and Grafana's site overview shows that figure: its panels' own queries, as committed, through Prometheus
    panels = {q.panel: q.expr for q in panel_queries(json.loads(OVERVIEW.read_text()))}
    (shown_cost,) = priced.prometheus.query(expand(panels["Cost today"], {"site": priced.site}))
    assert shown_cost["metric"]["currency"] == "CHF"
    assert round(float(shown_cost["value"][1]), 2) == round(answer["total_cost"], 2)
    (shown_energy,) = priced.prometheus.query(expand(panels["Energy today"], {"site": priced.site}))
    assert float(shown_energy["value"][1]) == pytest.approx(answer["total_energy_kwh"] * 1000, rel=1e-9)  # Wh
