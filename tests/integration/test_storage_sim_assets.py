"""`gridwatch simulator` with GRIDWATCH_SIM_ASSETS models the site's battery as a real process: it reports its state to
Redis and follows a battery setpoint that arrives on `<prefix>.commands`, charging within its limits, and its meter in
the site's readings on `<prefix>.readings` shows the charge."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, Command, CommandKind, ReadingBatch, decode, encode

from tests.infra.services import Kafka
from tests.utils.workloads import Workload, wait_for


def test_simulated_battery_obeys_a_setpoint(
    kafka: Kafka, redis_client: redis.Redis, base_env: dict[str, str], site: str, tmp_path: Path
) -> None:
    env = {
        **base_env,
        "GRIDWATCH_SIM_SENSORS": "12",
        "GRIDWATCH_SIM_ASSETS": "true",
        "GRIDWATCH_SIM_ASSETS_STEP_S": "0.2",
        "GRIDWATCH_ANALYTICS_BATTERIES": json.dumps(
            [{"name": "b1", "capacityKWh": 0.5, "powerKW": 50, "socMin": 0.1, "socMax": 0.9, "initialSoc": 0.2}]
        ),
    }
    keys = Keys(site)
    w = Workload("simulator", env, tmp_path).start()
    try:

        def state() -> dict[str, float]:
            raw = redis_client.hget(keys.batteries, "b1")
            return dict(json.loads(raw)) if raw else {}

        wait_for(lambda: bool(state()), 60, "the battery's state in Redis", logs=(w,))
        assert state()["p_kw"] == 0.0 and abs(state()["soc_frac"] - 0.2) < 1e-3
        producer = Producer({"bootstrap.servers": kafka.bootstrap})

        def send() -> None:
            now = time.time()
            cmd = Command(SCHEMA_VERSION, site, f"c{now}", now, "b1", CommandKind.BATTERY_SETPOINT, -50.0, now + 600,
                          "p", "test")  # fmt: skip
            producer.produce(f"{site}.commands", encode(cmd), b"b1")
            producer.flush(10)

        # the asset loop subscribes from the latest offset: repeat the command until it is taken
        def charging() -> bool:
            if state().get("p_kw", 0.0) > -1.0:
                send()
                return False
            return True

        wait_for(charging, 60, "the battery to follow the setpoint", interval=1.0, logs=(w,))
        wait_for(lambda: state()["soc_frac"] > 0.25, 60, "the SOC to rise while charging", logs=(w,))
        assert state()["p_kw"] >= -50.0 - 1e-6
        # the battery's meter is in the readings: charging draws from the site's bus
        meter = Consumer(
            {"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-m", "auto.offset.reset": "earliest"}
        )
        meter.subscribe([f"{site}.readings"])
        drawn: list[float] = []

        def metered_charge() -> bool:
            for msg in meter.consume(200, timeout=1.0):
                batch = decode(msg.value() or b"") if msg.error() is None else None
                if isinstance(batch, ReadingBatch) and batch.gateway == "assets":
                    drawn.extend(v for i, v in zip(batch.sensor_ids, batch.values, strict=True) if i == "b1-power")
            return bool(drawn) and max(drawn) > 10.0  # it follows the -50 kW setpoint with a 20 s lag

        try:
            wait_for(metered_charge, 60, "the battery's meter to show the charge in the readings", logs=(w,))
        finally:
            meter.close()
        assert max(drawn) <= 50.0 + 1e-6
        wait_for(lambda: state()["soc_frac"] >= 0.9 - 1e-6, 120, "the SOC to reach its ceiling", logs=(w,))
        time.sleep(1.0)
        assert state()["soc_frac"] <= 0.9 + 1e-6  # its BMS stops the charge at socMax
    finally:
        code = w.stop()
    assert code == 0, w.log()[-2000:]
