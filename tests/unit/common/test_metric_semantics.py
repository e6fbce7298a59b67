"""Metric semantics (issue 17 §2): power in watts, energy as a counter in joules counted once per reading, no
`_created` series."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gridwatch.api import metrics as api_metrics
from gridwatch.api.contract import DashboardStats, ProducerStatus, StatusCounts
from gridwatch.processor import metrics as processor_metrics
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from tests.unit.dashboards.test_dashboards import exported_metric_names


def sample(name: str, **labels: str) -> float:
    found = REGISTRY.get_sample_value(name, labels)
    assert found is not None, (name, labels)
    return found


def test_no_created_series_in_either_exposition_format() -> None:
    names = exported_metric_names()  # registers every workload's and the operator's metrics
    assert "gridwatch_processor_readings_total" in names
    openmetrics = generate_openmetrics(REGISTRY).decode()  # type: ignore[no-untyped-call]
    for text in (generate_latest(REGISTRY).decode(), openmetrics):
        created = [line for line in text.splitlines() if "_created" in line.split("{")[0].split(" ")[0]]
        # gridwatch_history_partitions_created_total is a counter *named* "created", not a _created series
        assert [c for c in created if not c.startswith(("gridwatch_history_partitions_created", "# "))] == []


def test_energy_is_a_joules_counter_split_by_direction() -> None:
    labels = processor_metrics.init("semantics")
    before = {d: sample("gridwatch_processor_energy_joules_total", **labels, direction=d) for d in ("import", "export")}
    # 2 kWh drawn, 0.5 kWh fed back (negative power), in one batch
    processor_metrics.count_energy(labels, np.array([1.5, 0.5, -0.5, 0.0]))
    after = {d: sample("gridwatch_processor_energy_joules_total", **labels, direction=d) for d in ("import", "export")}
    assert after["import"] - before["import"] == pytest.approx(2.0 * 3.6e6)
    assert after["export"] - before["export"] == pytest.approx(0.5 * 3.6e6)
    processor_metrics.count_energy(labels, np.array([], dtype=np.float64))  # an empty batch changes nothing
    assert sample("gridwatch_processor_energy_joules_total", **labels, direction="import") == after["import"]


def test_the_api_exports_site_power_in_watts_and_no_energy_gauge() -> None:
    names = exported_metric_names()
    assert "gridwatch_api_site_power_watts" in names
    assert "gridwatch_api_site_power_kw" not in names
    assert "gridwatch_api_site_energy_kwh" not in names
    assert "gridwatch_processor_energy_joules_total" in names


def test_the_site_power_gauge_is_the_kilowatts_times_1000() -> None:
    labels = api_metrics.init("watts")
    stats = DashboardStats(
        site="watts",
        total_sensors=1,
        total_power_kw=2.5,
        energy_kwh=9.0,
        readings_total=1,
        anomalies_total=0,
        status_counts=StatusCounts(normal=1, warning=0, critical=0),
        active_anomalies=0,
        top_failure_probabilities=[],
        last_reading_ts=time.time(),
        updated_at=time.time(),
    )
    producers = ProducerStatus(connected=False, last_heartbeat=None, timeout_seconds=15.0, producers=[])
    api_metrics._COLLECTOR.put(labels, api_metrics.Snapshot(time.time(), stats, producers))
    try:
        assert sample("gridwatch_api_site_power_watts", **labels) == 2500.0
    finally:
        api_metrics._COLLECTOR.drop(labels)
