"""The servers a run needs, by name, under one directory: launched together, waited for, stopped in reverse."""

from __future__ import annotations

import atexit
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gridwatch.local.kafka import Kafka
from gridwatch.local.mosquitto import Mosquitto
from gridwatch.local.postgres import Postgres
from gridwatch.local.prometheus import Prometheus
from gridwatch.local.redis import Redis
from gridwatch.local.server import Server

# Every server the runtime knows, in start order (Kafka first: it is the slowest). A new server is one module
# with a Server subclass and one line here.
SERVERS: dict[str, type[Server]] = {
    "kafka": Kafka,
    "redis": Redis,
    "postgres": Postgres,
    "prometheus": Prometheus,
    "mosquitto": Mosquitto,
}
ALL_SERVERS: tuple[str, ...] = tuple(SERVERS)
DEFAULT_SERVERS: tuple[str, ...] = ("kafka", "redis", "postgres")


class Stack:
    """Several servers under one dir (DIR/<name>/), started together and stopped at exit."""

    def __init__(
        self,
        workdir: str | Path,
        only: Iterable[str] = DEFAULT_SERVERS,
        ports: Mapping[str, int | None] | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        names = list(dict.fromkeys(only))
        unknown = [n for n in names if n not in SERVERS]
        if unknown:
            raise ValueError(f"unknown server(s) {unknown}; choose from {list(ALL_SERVERS)}")
        ports = dict(ports or {})
        self.services: dict[str, Server] = {
            n: SERVERS[n](self.workdir / n, ports.get(n)) for n in ALL_SERVERS if n in names
        }
        self._atexit_registered = False

    def _get(self, name: str) -> Any:
        return self.services.get(name)

    @property
    def kafka(self) -> Kafka | None:
        """The Kafka broker, if part of the stack."""
        svc: Kafka | None = self._get("kafka")
        return svc

    @property
    def redis(self) -> Redis | None:
        """The Redis server, if part of the stack."""
        svc: Redis | None = self._get("redis")
        return svc

    @property
    def postgres(self) -> Postgres | None:
        """The PostgreSQL server, if part of the stack."""
        svc: Postgres | None = self._get("postgres")
        return svc

    @property
    def prometheus(self) -> Prometheus | None:
        """The Prometheus server, if part of the stack."""
        svc: Prometheus | None = self._get("prometheus")
        return svc

    @property
    def mosquitto(self) -> Mosquitto | None:
        """The MQTT broker, if part of the stack."""
        svc: Mosquitto | None = self._get("mosquitto")
        return svc

    def start(self) -> Self:
        """Launch every server, then wait for all; stop all on failure."""
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            for svc in self.services.values():
                svc.launch()
            for svc in self.services.values():
                svc.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server, in reverse order."""
        for svc in reversed(list(self.services.values())):
            svc.stop()

    def env(self) -> dict[str, str]:
        """GRIDWATCH_* variables for every server in the stack."""
        out: dict[str, str] = {}
        for svc in self.services.values():
            out.update(svc.env())
        return out

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
