"""Closed loop on real Kafka, Redis and PostgreSQL, one simulated day faster than real time: the storage optimizer
plans every 15 minutes from the history's seasonal-naive forecast, the rebalancer sends commands every 5 minutes,
and the simulated battery and flexible loads obey them (response delay, efficiency). The site's import is measured from
its readings on `<site>.readings` (the plant's power sensors plus the assets' meters, as `gridwatch simulator` sends
them), and the live total the workloads read is the sum of the previous minute's readings. Against the same day
without the optimizer: lower peak import and lower cost, and no safety limit ever broken."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from unittest import mock
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import redis
from confluent_kafka import Consumer, Producer
from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.db.migrate import connect, migrate
from gridwatch.common.kafka import ensure_topics
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, Command, CommandKind, ReadingBatch, SensorType, decode, encode
from gridwatch.common.shutdown import StopFlag
from gridwatch.rebalancer.runner import Rebalancer
from gridwatch.rebalancer.settings import RebalancerSettings
from gridwatch.simulator.assets import BatteryModel, FlexibleLoadModel, meter_batch
from gridwatch.simulator.plant import Plant, build_layout
from gridwatch.storage.runner import StorageOptimizer
from gridwatch.storage.settings import StorageSettings

from tests.infra.services import Kafka, Postgres, Redis

MINUTE = 60.0
PEAK, OFFPEAK, PEAK_HOURS = 0.32, 0.18, (17, 21)
DEMAND_CHARGE = 10.0  # per kW of the day's (billing window's) highest 15-minute import
BATTERY = BatteryConfig(name="battery", capacity_kwh=600, power_kw=200, efficiency=0.9, soc_min=0.1, soc_max=0.9)
FLEX = FlexibleLoadConfig(name="kiln", power_kw=120, priority=10, min_run_minutes=30, run_hours=3,
                          window_start_hour=16, window_end_hour=24)  # fmt: skip
PROTECTED = FlexibleLoadConfig(name="cold-store", power_kw=60, priority=0, protected=True, run_hours=4,
                               window_start_hour=17, window_end_hour=23)  # fmt: skip
RAMP_KW_PER_S = 0.2
GUARD = 0.02
INTERVAL_S = 300.0


def machine_load(minutes: int) -> np.ndarray:
    """The simulator plant's machines' power per minute (minutes x machines), the same every run."""
    rng = np.random.default_rng(11)
    plant = Plant(build_layout(12, [SensorType.POWER], rng), rng, start_hour=0.0)
    return np.asarray([plant.rated_kw * plant.load(m * MINUTE) for m in range(minutes)])


def plant_batch(site: str, seq: int, ts: float, kw: np.ndarray) -> ReadingBatch:
    """The plant's power sensors at one minute, as the simulator's gateway sends them."""
    names = [f"m{i:05d}" for i in range(kw.size)]
    return ReadingBatch(SCHEMA_VERSION, site, "gw0000", seq, [f"{n}-power" for n in names], names,
                        [SensorType.POWER] * kw.size, [ts] * kw.size, [float(v) for v in kw])  # fmt: skip


def read_import(consumer: Consumer, batches: int, day_start: float, minutes: int) -> list[float]:
    """The site's import per minute: the sum of the power readings of the next `batches` batches on the topic."""
    kw = np.zeros(minutes)
    seen = 0
    deadline = time.monotonic() + 120
    while seen < batches:
        for msg in consumer.consume(500, timeout=1.0):
            if msg.error() is None:
                batch = decode(msg.value() or b"")
                assert isinstance(batch, ReadingBatch)
                seen += 1
                for ty, ts, value in zip(batch.types, batch.ts, batch.values, strict=True):
                    if ty is SensorType.POWER:
                        kw[round((ts - day_start) / MINUTE)] += value
        assert time.monotonic() < deadline, f"only {seen} of {batches} reading batches arrived"
    return [float(x) for x in kw]


def price(ts: float) -> float:
    hour = dt.datetime.fromtimestamp(ts, dt.UTC).hour
    return PEAK if PEAK_HOURS[0] <= hour < PEAK_HOURS[1] else OFFPEAK


@dataclass
class Day:
    """What one simulated day drew from the grid, per minute (from its readings), and what the assets did."""

    import_kw: list[float] = field(default_factory=list)
    batches: int = 0
    soc: list[float] = field(default_factory=list)
    battery: BatteryModel | None = None
    loads: list[FlexibleLoadModel] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def peak_kw(self) -> float:
        x = np.asarray(self.import_kw)
        return float(x.reshape(-1, 15).mean(axis=1).max())

    def cost(self, start: float) -> float:
        energy = sum(kw * price(start + i * MINUTE) / 60 for i, kw in enumerate(self.import_kw))
        return energy + DEMAND_CHARGE * self.peak_kw()


def settings_env(site: str, kafka: Kafka, redis_url: str, dsn: str) -> dict[str, str]:
    return {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "GRIDWATCH_REDIS_URL": redis_url,
        "GRIDWATCH_POSTGRES_DSN": dsn,
        "GRIDWATCH_PARTITIONS": "1",
        "GRIDWATCH_LOG_LEVEL": "WARNING",
        "GRIDWATCH_ANALYTICS_BATTERIES": f"[{BATTERY.model_dump_json(by_alias=True)}]",
        "GRIDWATCH_ANALYTICS_FLEXIBLE_LOADS": f"[{FLEX.model_dump_json(by_alias=True)},"
        f"{PROTECTED.model_dump_json(by_alias=True)}]",
        "GRIDWATCH_ANALYTICS_DEMAND_CHARGE_PER_KW": str(DEMAND_CHARGE),
        "GRIDWATCH_REBALANCER_INTERVAL_S": str(INTERVAL_S),
        "GRIDWATCH_REBALANCER_RAMP_KW_PER_S": str(RAMP_KW_PER_S),
        "GRIDWATCH_REBALANCER_SOC_GUARD": str(GUARD),
    }


def simulate(
    day_start: float,
    machines: np.ndarray,
    readings: Producer,
    site: str,
    client: redis.Redis,
    keys: Keys,
    optimizer: StorageOptimizer | None,
    rebalancer: Rebalancer | None,
    commands: Consumer | None,
) -> Day:
    """One day, minute by minute: plan every 15 min, decide every 5 min, obey every command."""
    zone = ZoneInfo("UTC")
    day = Day(
        battery=BatteryModel(BATTERY, soc_frac=0.5),
        loads=[FlexibleLoadModel(FLEX, zone), FlexibleLoadModel(PROTECTED, zone)],
    )
    battery = day.battery
    assert battery is not None
    metered_kw = float(machines[0].sum())  # what the processor's total shows: the last minute's power readings
    for m in range(machines.shape[0]):
        now = day_start + m * MINUTE
        client.hset(keys.aggregates, "total_power_kw", metered_kw)
        client.hset(keys.batteries, battery.cfg.name, battery.state(now))
        for load in day.loads:
            client.hset(keys.flexible_loads, load.cfg.name, load.state(now))
        if optimizer is not None and m % 15 == 0:
            optimizer.step(now)
        if rebalancer is not None and commands is not None and m % int(INTERVAL_S / MINUTE) == 0:
            deadline = time.monotonic() + 30
            while (
                optimizer is not None and m % 15 == 0 and (rebalancer.plan is None or rebalancer.plan.created_ts < now)
            ):
                rebalancer.poll_plans(timeout=0.2, max_messages=1)  # the plan comes back through Kafka
                assert time.monotonic() < deadline, "the plan never arrived on <site>.dispatch"
            sent = rebalancer.step(now)
            ids = {c.command_id for c in sent}
            while ids:
                for msg in commands.consume(len(ids), timeout=0.5):
                    if msg.error() is None:
                        cmd = decode(msg.value() or b"")
                        assert isinstance(cmd, Command)
                        ids.discard(cmd.command_id)
                        day.commands.append(cmd)
                        targets: list[BatteryModel | FlexibleLoadModel] = [battery, *day.loads]
                        for target in targets:
                            if target.cfg.name == cmd.target:
                                target.command(cmd)
                assert time.monotonic() < deadline, "commands never arrived on <site>.commands"
        day.soc.append(battery.soc_frac)
        battery.step(now, MINUTE)
        for load in day.loads:
            load.step(now, MINUTE)
        # the minute's readings: the plant's power sensors and the assets' meters, on <site>.readings
        meters = meter_batch(site, 2 * m + 1, now, [battery], day.loads)
        for batch in (plant_batch(site, 2 * m, now, machines[m]), meters):
            readings.produce(f"{site}.readings", encode(batch), batch.gateway.encode())
            day.batches += 1
        readings.poll(0)
        metered_kw = float(machines[m].sum()) + sum(meters.values)
    readings.flush(30)
    return day


def seed_yesterday(dsn: str, site: str, day_start: float, base: np.ndarray) -> None:
    """Yesterday as the history writer would have stored it: the plant's load and the loads' natural runs."""
    zone = ZoneInfo("UTC")
    loads = [FlexibleLoadModel(FLEX, zone), FlexibleLoadModel(PROTECTED, zone)]
    rows = []
    for m in range(base.size):
        ts = day_start - 86400 + m * MINUTE
        kw = base[m] + sum(load.step(ts, MINUTE) for load in loads)
        rows.append((site, dt.datetime.fromtimestamp(ts, dt.UTC), kw / 60.0))
    with connect(dsn, "test") as conn:
        migrate(conn)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO gw_history_type_minute (site, sensor_type, minute, sensors, readings, anomalies,"
                " value_sum, value_min, value_max, energy_kwh) VALUES (%s, 'power', %s, 1, 1, 0, 0, 0, 0, %s)",
                rows,
            )


@pytest.mark.timeout(900)
def test_closed_loop_day_lowers_peak_and_cost_safely(
    kafka: Kafka, redis_server: Redis, redis_client: redis.Redis, postgres: Postgres, site: str
) -> None:
    day_start = (time.time() // 86400 - 2) * 86400  # a past UTC midnight, so "yesterday" is history
    machines = machine_load(1440)
    base = machines.sum(axis=1)
    seed_yesterday(postgres.dsn, site, day_start, base)
    keys = Keys(site)
    env = settings_env(site, kafka, redis_server.url, postgres.dsn)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        storage_settings, rebalancer_settings = StorageSettings(), RebalancerSettings()
    ensure_topics(kafka.bootstrap, [f"{site}.readings"], 1, 1)
    readings = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 20})
    meter = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-meter", "auto.offset.reset": "earliest"}
    )
    meter.subscribe([f"{site}.readings"])
    without = simulate(day_start, machines, readings, site, redis_client, keys, None, None, None)
    without.import_kw = read_import(meter, without.batches, day_start, base.size)
    redis_client.delete(keys.batteries, keys.flexible_loads, keys.storage_plan)

    stop = StopFlag()
    optimizer = StorageOptimizer(storage_settings, stop)
    rebalancer = Rebalancer(rebalancer_settings, stop)
    rebalancer.start()
    commands = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"{site}-sim", "auto.offset.reset": "earliest"}
    )
    commands.subscribe([f"{site}.commands"])
    deadline = time.monotonic() + 60
    while not rebalancer.consumer.assignment():  # join the group before the first plan is sent
        rebalancer.poll_plans(timeout=0.5)
        assert time.monotonic() < deadline, "rebalancer never got its partitions"
    try:
        with_opt = simulate(day_start, machines, readings, site, redis_client, keys, optimizer, rebalancer, commands)
        with_opt.import_kw = read_import(meter, with_opt.batches, day_start, base.size)
    finally:
        meter.close()
        commands.close()
        rebalancer.consumer.close()
        optimizer.producer.flush(10)
        rebalancer.producer.flush(10)

    # the effect shows in what the site drew from the grid (printed for docs/storage.md: pytest -s)
    print(
        f"closed loop: peak {without.peak_kw():.1f} -> {with_opt.peak_kw():.1f} kW, "
        f"cost {without.cost(day_start):.2f} -> {with_opt.cost(day_start):.2f}"
    )
    assert with_opt.peak_kw() < without.peak_kw() - 0.05 * BATTERY.power_kw, (with_opt.peak_kw(), without.peak_kw())
    assert with_opt.cost(day_start) < without.cost(day_start), (with_opt.cost(day_start), without.cost(day_start))
    # no safety limit was ever broken
    battery = with_opt.battery
    assert battery is not None and battery.violations == 0
    assert min(with_opt.soc) >= BATTERY.soc_min - 1e-9 and max(with_opt.soc) <= BATTERY.soc_max + 1e-9
    setpoints = [c for c in with_opt.commands if c.kind is CommandKind.BATTERY_SETPOINT]
    assert len(setpoints) == 1440 // int(INTERVAL_S / MINUTE)
    ramp = RAMP_KW_PER_S * INTERVAL_S
    previous = 0.0
    for c in setpoints:
        assert -BATTERY.charge_kw - 1e-9 <= c.setpoint_kw <= BATTERY.discharge_kw + 1e-9
        assert abs(c.setpoint_kw - previous) <= ramp + 1e-6, c
        soc = with_opt.soc[round((c.ts - day_start) / MINUTE)]
        if soc <= BATTERY.soc_min + GUARD:
            assert c.setpoint_kw <= 1e-9, c
        if soc >= BATTERY.soc_max - GUARD:
            assert c.setpoint_kw >= -1e-9, c
        previous = c.setpoint_kw
    assert not [c for c in with_opt.commands if c.target == PROTECTED.name and c.kind is CommandKind.LOAD_LIMIT]
    assert all(load.curtailed_while_protected == 0 for load in with_opt.loads)
    # every flexible load still did its day's work
    for load in with_opt.loads:
        assert sum(load.history) / 60 == pytest.approx(load.cfg.power_kw * load.cfg.run_hours, rel=0.02)
    # and the audit log in PostgreSQL has every command, with why
    with connect(postgres.dsn, "test") as conn:
        rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE reason <> ''), bool_and(sent) FROM gw_rebalancer_audit"
            " WHERE site = %s",
            (site,),
        ).fetchone()
    assert rows == (len(with_opt.commands), len(with_opt.commands), True)
