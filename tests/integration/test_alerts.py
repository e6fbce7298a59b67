"""The alert engine against real Kafka, Redis and PostgreSQL, notifying a real HTTP receiver that goes down."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from confluent_kafka import Producer
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, Alert, SensorType, Severity, Status, encode
from gridwatch.common.state import SensorState, state_encoder

from tests.infra.services import Kafka, Postgres
from tests.utils.workloads import Workload, free_port, wait_for

TOKEN = "s3cret"


class Receiver:
    """A webhook and Alertmanager receiver on a fixed port that can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, str, Any]] = []  # (path, idempotency key, body)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.received.append((self.path, self.headers.get("Idempotency-Key", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def keys(self) -> set[str]:
        with self.lock:
            return {k for _, k, _ in self.received}


def sensor(
    sid: str, value: float, status: Status = Status.NORMAL, sensor_type: SensorType = SensorType.TEMPERATURE
) -> bytes:
    now = time.time()
    return state_encoder.encode(
        SensorState(
            id=sid, machine="m1", type=sensor_type, unit="°C", value=value, ts=now, score=0.1, anomaly=False,
            failure_probability=0.5 if status is not Status.NORMAL else 0.05, status=status, kind="", readings=100,
            anomalies=0, energy_kwh=0.0, baseline_mean=50.0, baseline_std=1.0, hazard=0.0, updated_at=now,
        )
    )  # fmt: skip


def processor_alert(site: str, sid: str, severity: Severity) -> bytes:
    return encode(
        Alert(
            schema_version=SCHEMA_VERSION, site=site, sensor_id=sid, machine="m1", type=SensorType.VIBRATION,
            ts=time.time(), severity=severity, kind="spike", score=0.9, failure_probability=0.6, value=9.0,
            message=f"vibration sensor {sid} on m1 is {severity.value}: spike",
        )
    )  # fmt: skip


def test_alert_lifecycle_and_notifications_survive_a_receiver_outage(
    base_env: dict[str, str], postgres: Postgres, kafka: Kafka, redis_client: redis.Redis, site: str, tmp_path: Path
) -> None:
    with connect(postgres.dsn, "test") as conn:
        migrate(conn)
    keys = Keys(site)
    hook_port, api_port = free_port(), free_port()
    rules = [{"name": "hot", "kind": "threshold", "sensorType": "temperature", "op": ">", "value": 90}]
    routes = [
        {"name": "ops", "kind": "webhook", "url": f"http://127.0.0.1:{hook_port}/hook", "minSeverity": "info"},
        {"name": "am", "kind": "alertmanager", "url": f"http://127.0.0.1:{hook_port}", "minSeverity": "info"},
    ]
    env = {
        **base_env,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_ALERTS_RULES": json.dumps(rules),
        "GRIDWATCH_ALERTS_DEFAULT_RULES": "false",
        "GRIDWATCH_ALERTS_ROUTES": json.dumps(routes),
        "GRIDWATCH_ALERTS_EVAL_INTERVAL_S": "0.5",
        "GRIDWATCH_ALERTS_CLEAR_AFTER_S": "2",
        "GRIDWATCH_ALERTS_REOPEN_WINDOW_S": "300",
        "GRIDWATCH_ALERTS_BACKOFF_BASE_S": "0.5",
        "GRIDWATCH_ALERTS_BACKOFF_MAX_S": "2",
        "GRIDWATCH_ALERTS_ALERTMANAGER_RESEND_S": "0",
        "GRIDWATCH_API_TOKEN": TOKEN,
        "GRIDWATCH_API_PORT": str(api_port),
    }
    engine = Workload("alerts", env, tmp_path).start()
    api = Workload("api", {**env, "GRIDWATCH_METRICS_PORT": str(free_port())}, tmp_path).start()
    receiver = Receiver(hook_port)  # down: nothing listens on its port yet
    base = f"http://127.0.0.1:{api_port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def alerts(**params: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{base}/api/alerts", params=params).json()
        assert body["total"] == len(body["items"])
        items: list[dict[str, Any]] = body["items"]
        return items

    def one(fingerprint: str) -> dict[str, Any]:
        [item] = [a for a in alerts() if a["fingerprint"] == fingerprint]
        return item

    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90, "API ready", logs=(api,))
        # --- a threshold rule over the live state: fires once, however long it holds
        redis_client.hset(keys.sensors, "t1", sensor("t1", 95.0))
        wait_for(lambda: any(a["fingerprint"] == "hot:t1" for a in alerts()), 30, "hot:t1 fires", logs=(engine,))
        time.sleep(1.5)  # several evaluations
        hot = one("hot:t1")
        assert (hot["state"], hot["severity"], hot["count"], hot["rule"]) == ("active", "warning", 1, "hot")
        assert hot["sensor_id"] == "t1" and hot["machine"] == "m1" and hot["value"] == 95.0
        # --- processor alerts from Kafka: deduplicated into one alert, counted, escalated
        redis_client.hset(keys.sensors, "v1", sensor("v1", 9.0, Status.WARNING, SensorType.VIBRATION))
        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        first = processor_alert(site, "v1", Severity.WARNING)
        # the second record is a republished copy (a processor that crashed before its commit sends it again)
        for message in (first, first, processor_alert(site, "v1", Severity.WARNING)):
            producer.produce(f"{site}.alerts", message, b"v1")
        producer.produce(f"{site}.alerts", processor_alert(site, "v1", Severity.CRITICAL), b"v1")
        producer.flush(10)
        wait_for(
            lambda: any(a["fingerprint"] == "anomaly:v1" and a["severity"] == "critical" for a in alerts()),
            30,
            "processor alerts applied in order up to the escalation",
            logs=(engine,),
        )
        v1 = one("anomaly:v1")
        assert v1["count"] == 3, "three distinct processor alerts counted once each, the republished copy not at all"
        assert v1["severity"] == "critical" and v1["state"] == "active"
        assert [a["fingerprint"] for a in alerts(severity="critical")] == ["anomaly:v1"]
        assert [a["fingerprint"] for a in alerts(sensor="t1")] == ["hot:t1"]
        page = httpx.get(f"{base}/api/alerts", params={"limit": 1, "offset": 1}).json()
        assert page["total"] == 2 and len(page["items"]) == 1

        # --- manual transitions: bearer token, 404, 409
        ack = f"{base}/api/alerts/{hot['id']}/ack"
        assert httpx.post(ack).status_code == 401
        assert httpx.post(ack, headers={"Authorization": "Bearer nope"}).status_code == 403
        assert httpx.post(f"{base}/api/alerts/999999/ack", headers=auth).status_code == 404
        done = httpx.post(ack, headers=auth, json={"by": "alice"})
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "acknowledged" and done.json()["acknowledged_by"] == "alice"
        again = httpx.post(ack, headers=auth)
        assert again.status_code == 409 and "acknowledged" in again.json()["detail"]
        assert [a["id"] for a in alerts(state="acknowledged")] == [hot["id"]]

        # --- auto-clear when the condition resolves and stays resolved; the flap reopens the same alert
        redis_client.hset(keys.sensors, "t1", sensor("t1", 50.0))
        wait_for(lambda: one("hot:t1")["state"] == "cleared", 30, "hot:t1 auto-clears", logs=(engine,))
        assert one("hot:t1")["cleared_at"] is not None
        redis_client.hset(keys.sensors, "t1", sensor("t1", 97.0))
        wait_for(lambda: one("hot:t1")["state"] == "active", 30, "hot:t1 reopens", logs=(engine,))
        reopened = one("hot:t1")
        assert reopened["id"] == hot["id"] and reopened["count"] == 2 and reopened["acknowledged_at"] is None
        # the processor alert clears once its sensor is back to normal
        redis_client.hset(keys.sensors, "v1", sensor("v1", 3.0, Status.NORMAL, SensorType.VIBRATION))
        wait_for(lambda: one("anomaly:v1")["state"] == "cleared", 30, "anomaly:v1 clears", logs=(engine,))
        cleared = httpx.post(f"{base}/api/alerts/{v1['id']}/clear", headers=auth)
        assert cleared.status_code == 409  # already cleared
        manual = httpx.post(f"{base}/api/alerts/{hot['id']}/clear", headers=auth, json={"by": "bob"})
        assert manual.status_code == 200 and manual.json()["state"] == "cleared"
        redis_client.hset(keys.sensors, "t1", sensor("t1", 40.0))
        history = httpx.get(f"{base}/api/alerts/{hot['id']}").json()["events"]
        assert [e["event"] for e in history] == ["fired", "acknowledged", "cleared", "reopened", "cleared"]
        assert history[-1]["actor"] == "bob"

        # --- notifications: the receiver was down all along; restart the engine, then bring it up
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:

            def scalar(query: str) -> int:
                row = conn.execute(query, (site,)).fetchone()
                return int(row[0] or 0) if row else 0

            wait_for(
                lambda: scalar("SELECT count(*) FROM gw_alert_events WHERE site = %s AND NOT routed") == 0,
                30,
                "events routed to the outbox",
                logs=(engine,),
            )
            wait_for(
                lambda: scalar("SELECT max(attempts) FROM gw_alert_outbox WHERE site = %s") >= 3,
                30,
                "failed delivery attempts",
                logs=(engine,),
            )
            rows = conn.execute("SELECT idempotency_key FROM gw_alert_outbox WHERE site = %s", (site,)).fetchall()
            expected = {str(k) for (k,) in rows}
            assert engine.stop() == 0
            engine = Workload("alerts", env, tmp_path).start()  # same outbox, new process
            time.sleep(2)
            receiver.start()
            wait_for(lambda: expected <= receiver.keys(), 60, "every notification delivered", logs=(engine,))
            assert scalar("SELECT count(*) FROM gw_alert_outbox WHERE site = %s AND delivered_at IS NULL") == 0
        hooks = [body for path, _, body in receiver.received if path == "/hook"]
        events = [(b["alert"]["fingerprint"], b["event"]) for b in hooks]
        for e in [("hot:t1", "fired"), ("hot:t1", "acknowledged"), ("hot:t1", "cleared"), ("hot:t1", "reopened")]:
            assert e in events
        assert ("anomaly:v1", "escalated") in events and ("anomaly:v1", "cleared") in events
        assert all(b["site"] == site and b["idempotency_key"] for b in hooks)
        manager = [body for path, _, body in receiver.received if path == "/api/v2/alerts"]
        assert manager and all(isinstance(b, list) and len(b) == 1 for b in manager)
        firing = [
            b[0]
            for b in manager
            if b[0]["labels"]["fingerprint"] == "hot:t1" and b[0]["annotations"]["state"] == "active"
        ]
        resolved = [
            b[0]
            for b in manager
            if b[0]["labels"]["fingerprint"] == "hot:t1" and b[0]["annotations"]["state"] == "cleared"
        ]
        assert firing and resolved
        assert firing[0]["labels"]["alertname"] == "hot" and firing[0]["labels"]["sensor"] == "t1"
        assert "endsAt" in firing[0] and resolved[0]["endsAt"] >= resolved[0]["startsAt"]
        assert not any(b[0]["annotations"]["state"] == "acknowledged" for b in manager)
    finally:
        receiver.stop()
        engine.stop()
        api.stop()
