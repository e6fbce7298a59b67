"""Prometheus metrics of the simulator."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LABELS = ("site", "component")
READINGS = Counter("gridwatch_simulator_readings_total", "Readings produced to Kafka", LABELS)
FAULTY = Counter("gridwatch_simulator_faulty_readings_total", "Readings carrying an injected fault", LABELS)
DELIVERY_ERRORS = Counter("gridwatch_simulator_delivery_errors_total", "Messages Kafka failed to deliver", LABELS)
RATE = Gauge("gridwatch_simulator_rate_readings_per_second", "Achieved production rate", LABELS)
SENSORS = Gauge("gridwatch_simulator_sensors", "Simulated sensors", LABELS)
