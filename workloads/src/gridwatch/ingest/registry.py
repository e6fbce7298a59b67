"""The sensor registry in PostgreSQL: declared sensors survive restarts and are shared by replicas; gateway
statistics are written per replica for `GET /api/v1/devices`."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog

from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.schema import SensorType
from gridwatch.ingest.payloads import SensorMeta

log = structlog.get_logger(__name__)


class Registry:
    """Writes declarations and gateway snapshots from a background thread; reconnects after an outage."""

    def __init__(
        self, conninfo: str, site: str, snapshot: Callable[[], list[dict[str, Any]]], every_s: float = 2.0
    ) -> None:
        self.conninfo = conninfo
        self.site = site
        self.replica = socket.gethostname()
        self.snapshot = snapshot
        self.every_s = every_s
        self._queue: queue.Queue[tuple[str, list[SensorMeta]]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry", daemon=True)
        self._conn: psycopg.Connection[Any] | None = None

    def load(self) -> dict[str, SensorMeta]:
        """Migrate and read every declared sensor of the site (empty when PostgreSQL is unreachable now)."""
        try:
            conn = self._connection()
            rows = conn.execute(
                "SELECT sensor_id, type, machine, unit FROM gw_ingest_sensors WHERE site = %s", (self.site,)
            ).fetchall()
        except psycopg.Error as exc:
            log.warning(
                "sensor registry unavailable at start; declarations will be written when it returns", error=str(exc)
            )
            self._conn = None
            return {}
        found = {}
        for sensor_id, kind, machine, unit in rows:
            if kind in {t.value for t in SensorType}:
                found[sensor_id] = SensorMeta(sensor_id, SensorType(kind), machine, unit)
        log.info("sensor registry loaded", sensors=len(found))
        return found

    def load_gateways(self) -> list[dict[str, Any]]:
        """This replica's gateway counters as last written, so a restarted process counts on instead of from 0."""
        try:
            rows = (
                self._connection()
                .execute(
                    """SELECT gateway, transport, first_seen, last_seen, readings, rejected, rejected_by_reason,
                          last_rejection FROM gw_ingest_gateways WHERE site = %s AND replica = %s""",
                    (self.site, self.replica),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            log.warning("gateway counters unavailable at start; counting from 0", error=str(exc))
            self._conn = None
            return []
        return [
            {
                "gateway": r[0],
                "transport": r[1],
                "first_seen": r[2].timestamp(),
                "last_seen": r[3].timestamp(),
                "readings": int(r[4]),
                "rejected": int(r[5]),
                "rejected_by_reason": {str(k): int(v) for k, v in (r[6] or {}).items()},
                "last_rejection": r[7] or "",
            }
            for r in rows
        ]

    def start(self) -> Registry:
        """Start the writer thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Write what is pending and stop."""
        self._stop.set()
        self._thread.join(10)
        if self._conn is not None:
            self._conn.close()

    def declare(self, gateway: str, metas: list[SensorMeta]) -> None:
        """Queue sensors a gateway declared (called on the request path: never blocks)."""
        self._queue.put((gateway, metas))

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.conninfo, "ingest")
            ensure_schema(self._conn)
        return self._conn

    def _run(self) -> None:
        pending: list[tuple[str, list[SensorMeta]]] = []
        while True:
            stopping = self._stop.wait(self.every_s)
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(pending)
                pending = []
            except psycopg.Error as exc:
                log.warning("sensor registry write failed; retrying", error=str(exc), pending=len(pending))
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
            if stopping:
                return

    def _write(self, pending: list[tuple[str, list[SensorMeta]]]) -> None:
        conn = self._connection()
        rows = [(self.site, m.sensor_id, gw, m.type.value, m.unit, m.machine) for gw, metas in pending for m in metas]
        gateways = self.snapshot()
        with conn.transaction(), conn.cursor() as cur:
            if rows:
                cur.executemany(
                    """
                    INSERT INTO gw_ingest_sensors (site, sensor_id, gateway, type, unit, machine)
                    VALUES (%s, %s, %s, %s, %s, %s)
                    ON CONFLICT (site, sensor_id) DO UPDATE SET gateway = EXCLUDED.gateway, type = EXCLUDED.type,
                        unit = EXCLUDED.unit, machine = EXCLUDED.machine, updated_at = now()
                    """,
                    rows,
                )
            if gateways:
                cur.executemany(
                    """
                    INSERT INTO gw_ingest_gateways (site, gateway, replica, transport, first_seen, last_seen,
                        readings, rejected, rejected_by_reason, last_rejection, sensors, rate)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (site, gateway, replica) DO UPDATE SET transport = EXCLUDED.transport,
                        last_seen = EXCLUDED.last_seen, readings = EXCLUDED.readings, rejected = EXCLUDED.rejected,
                        rejected_by_reason = EXCLUDED.rejected_by_reason, last_rejection = EXCLUDED.last_rejection,
                        sensors = EXCLUDED.sensors, rate = EXCLUDED.rate
                    """,
                    [
                        (
                            self.site,
                            g["gateway"],
                            self.replica,
                            g["transport"],
                            _time(g["first_seen"]),
                            _time(g["last_seen"]),
                            g["readings"],
                            g["rejected"],
                            json.dumps(g["rejected_by_reason"]),
                            g["last_rejection"],
                            g["sensors"],
                            g["rate"],
                        )
                        for g in gateways
                    ],
                )


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
