"""The simulated assets' power meters: a charging battery adds to the site's power readings, a discharging one
subtracts, a deferred flexible load reads 0; the simulator counts them as sensors only when it models assets."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gridwatch.common.assets import BatteryConfig, FlexibleLoadConfig
from gridwatch.common.schema import SCHEMA_VERSION, Command, CommandKind, ReadingBatch, SensorType, decode, encode
from gridwatch.common.shutdown import StopFlag
from gridwatch.simulator.assets import ASSET_GATEWAY, BatteryModel, FlexibleLoadModel, meter_batch
from gridwatch.simulator.runner import Simulator
from gridwatch.simulator.settings import SimulatorSettings

BATTERY = BatteryConfig(name="b1", capacity_kwh=100, power_kw=40, soc_min=0.1, soc_max=0.9)
KILN = FlexibleLoadConfig(name="kiln", power_kw=25, run_hours=2, window_start_hour=0, window_end_hour=24)
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


def command(target: str, kind: CommandKind, kw: float) -> Command:
    return Command(SCHEMA_VERSION, "s", f"c-{target}", NOON, target, kind, kw, NOON + 3600, "plan", "test")


def meters(battery: BatteryModel, load: FlexibleLoadModel, seconds: int) -> ReadingBatch:
    for i in range(seconds):
        battery.step(NOON + i, 1.0)
        load.step(NOON + i, 1.0)
    return meter_batch("s", 7, NOON + seconds, [battery], [load])


def test_meters_follow_the_setpoint_and_the_limit() -> None:
    battery = BatteryModel(BATTERY, soc_frac=0.5, response_s=5.0)
    load = FlexibleLoadModel(KILN, ZoneInfo("UTC"))
    idle = meters(battery, load, 10)
    assert idle.gateway == ASSET_GATEWAY and idle.sensor_ids == ["b1-power", "kiln-power"]
    assert idle.types == [SensorType.POWER, SensorType.POWER] and idle.machines == ["b1", "kiln"]
    assert idle.values == [0.0, 25.0]  # the load runs as soon as it may

    battery.command(command("b1", CommandKind.BATTERY_SETPOINT, -40.0))  # charge: the site draws more
    charging = meters(battery, load, 60)
    assert charging.values[0] > 39.0 and charging.values[0] == -battery.p_kw

    battery.command(command("b1", CommandKind.BATTERY_SETPOINT, 30.0))  # discharge: the site draws less
    load.command(command("kiln", CommandKind.LOAD_LIMIT, 0.0))
    load.run_s = KILN.min_run_minutes * 60  # its minimum run is over, so the limit defers it
    after = decode(encode(meters(battery, load, 60)))  # and it survives the wire
    assert isinstance(after, ReadingBatch)
    assert after.values[0] < -29.0 and after.values[1] == 0.0


def test_sensor_count_includes_meters_only_with_assets() -> None:
    settings = SimulatorSettings(start_time=datetime(2026, 3, 2, tzinfo=UTC), sensors=12)
    assert Simulator(settings, StopFlag()).sensors == 12
