"""Prometheus metrics of the simulator."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from gridwatch.common.metrics import LABELS, announce

READINGS = Counter("gridwatch_simulator_readings_total", "Readings produced to Kafka", LABELS)
FAULTY = Counter("gridwatch_simulator_faulty_readings_total", "Readings carrying an injected fault", LABELS)
BATCHES = Counter("gridwatch_simulator_batches_total", "Gateway batches (Kafka messages) produced", LABELS)
DELIVERY_ERRORS = Counter("gridwatch_simulator_delivery_errors_total", "Messages Kafka failed to deliver", LABELS)
RATE = Gauge("gridwatch_simulator_rate_readings_per_second", "Achieved production rate", LABELS)
TARGET_RATE = Gauge("gridwatch_simulator_target_rate_readings_per_second", "Production rate asked for", LABELS)
SENSORS = Gauge("gridwatch_simulator_sensors", "Simulated sensors", LABELS)


def init(site: str, target_rate: float) -> dict[str, str]:
    """Create every series at its starting value (so rates and alerts see them from the first scrape)."""
    labels = announce(site, "simulator")
    for counter in (READINGS, FAULTY, BATCHES, DELIVERY_ERRORS):
        counter.labels(**labels)
    RATE.labels(**labels).set(0)
    TARGET_RATE.labels(**labels).set(target_rate)
    return labels
