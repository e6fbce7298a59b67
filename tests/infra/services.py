"""The local servers for tests: the product's own (gridwatch.local), under the names the tests have used.

One implementation serves `make up`, the tests, the benchmark and the UI e2e; see docs/local-components.md.
"""

from __future__ import annotations

from gridwatch.local.kafka import KAFKA_VERSION, Kafka, ensure_kafka_libs
from gridwatch.local.mosquitto import Mosquitto
from gridwatch.local.postgres import Postgres
from gridwatch.local.process import free_port
from gridwatch.local.prometheus import Prometheus
from gridwatch.local.redis import Redis
from gridwatch.local.server import Server, ServerError
from gridwatch.local.stack import ALL_SERVERS, Stack

Service = Server
ServiceError = ServerError
ALL_SERVICES = ALL_SERVERS

__all__ = [
    "ALL_SERVICES",
    "KAFKA_VERSION",
    "Kafka",
    "Mosquitto",
    "Postgres",
    "Prometheus",
    "Redis",
    "Service",
    "ServiceError",
    "Stack",
    "ensure_kafka_libs",
    "free_port",
]
