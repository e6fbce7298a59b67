"""The wire contract: every Kafka message Gridwatch sends, versioned and validated on decode."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Final

import msgspec

SCHEMA_VERSION: Final = 1


class SensorType(StrEnum):
    """Measured quantity of a sensor; the value's unit is fixed per type."""

    POWER = "power"
    CURRENT = "current"
    VOLTAGE = "voltage"
    TEMPERATURE = "temperature"
    PRESSURE = "pressure"
    VIBRATION = "vibration"


UNITS: Final[dict[SensorType, str]] = {
    SensorType.POWER: "kW",
    SensorType.CURRENT: "A",
    SensorType.VOLTAGE: "V",
    SensorType.TEMPERATURE: "°C",
    SensorType.PRESSURE: "bar",
    SensorType.VIBRATION: "mm/s",
}
SENSOR_TYPES: Final[tuple[SensorType, ...]] = tuple(SensorType)
TYPE_CODE: Final[dict[str, int]] = {t.value: i for i, t in enumerate(SENSOR_TYPES)}

# Physically plausible range of a reading per type, in the type's unit (docs/reliability.md). A reading outside
# it is not data but a broken sensor or an attack: the processor dead-letters it. The bounds also keep every
# sum, square and product the scorer forms far from float overflow (|x| ≤ 1e6, so x² ≤ 1e12).
PLAUSIBLE: Final[dict[SensorType, tuple[float, float]]] = {
    SensorType.POWER: (-1e6, 1e6),  # kW: a 1 GW site, negative when exporting
    SensorType.CURRENT: (-1e6, 1e6),  # A
    SensorType.VOLTAGE: (-1e6, 1e6),  # V: up to 1 MV transmission, signed for DC/instantaneous
    SensorType.TEMPERATURE: (-273.15, 5000.0),  # °C: absolute zero to beyond molten steel
    SensorType.PRESSURE: (-1.1, 1e5),  # bar: gauge (≥ -1 atm) to 10 GPa
    SensorType.VIBRATION: (-1e4, 1e4),  # mm/s
}
_ALL_LO: Final = max(lo for lo, _ in PLAUSIBLE.values())
_ALL_HI: Final = min(hi for _, hi in PLAUSIBLE.values())


class FaultKind(StrEnum):
    """Injected fault scenarios; carried as ground-truth labels on simulated readings."""

    SPIKE = "spike"
    DRIFT = "drift"
    STUCK = "stuck"
    OVERHEAT = "overheat"
    DROPOUT = "dropout"


class ReadingSource(StrEnum):
    """Where a sensor's readings came from: the built-in simulator or a device over one of the ingest paths."""

    SIMULATED = "simulated"
    HTTP = "http"
    MQTT = "mqtt"
    REPLAY = "replay"


READING_SOURCES: Final[tuple[ReadingSource, ...]] = tuple(ReadingSource)
SOURCE_CODE: Final[dict[ReadingSource, int]] = {s: i for i, s in enumerate(READING_SOURCES)}


class Status(StrEnum):
    """Health bin of a sensor, from its failure probability and current anomaly."""

    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"


class Severity(StrEnum):
    """Severity of an alert."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SensorId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Version = Annotated[int, msgspec.Meta(ge=1, le=SCHEMA_VERSION)]


class SensorInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Static description of one sensor, sent once per gateway batch column."""

    machine: str
    type: SensorType


class ReadingBatch(msgspec.Struct, tag_field="msg", tag="readings", forbid_unknown_fields=True):
    """Readings of one gateway, column-wise: entry i of every list belongs to reading i.

    `fault_index`/`fault_kind` list the readings under an injected fault (simulator ground truth); `source` is
    where the readings came from (absent from producers older than the field: unknown).
    """

    schema_version: Version
    site: str
    gateway: str
    seq: Annotated[int, msgspec.Meta(ge=0)]
    sensor_ids: list[SensorId]
    machines: list[str]
    types: list[SensorType]
    ts: list[float]
    values: list[float]
    fault_index: list[int] = []
    fault_kind: list[FaultKind] = []
    traceparent: str | None = None
    source: ReadingSource | None = None


class Heartbeat(msgspec.Struct, tag_field="msg", tag="heartbeat", forbid_unknown_fields=True):
    """Liveness beacon of a producer so consumers can tell a live producer from a dead one."""

    schema_version: Version
    site: str
    producer: str
    ts: float
    sensors: Annotated[int, msgspec.Meta(ge=0)]
    readings_sent: Annotated[int, msgspec.Meta(ge=0)]
    rate: float


class EnrichedBatch(msgspec.Struct, tag_field="msg", tag="enriched", forbid_unknown_fields=True):
    """Scored readings, column-wise, as the processor computed them."""

    schema_version: Version
    site: str
    sensor_ids: list[SensorId]
    types: list[SensorType]
    ts: list[float]
    values: list[float]
    score: list[float]
    anomaly: list[bool]
    failure_probability: list[float]
    status: list[Status]
    label: list[str]
    # kWh each reading adds to its sensor's energy since the sensor's previous reading (power sensors, else 0),
    # integrated by the processor, which sees each sensor in time order: consumers sum it in any order
    energy_kwh: list[float]


class Alert(msgspec.Struct, tag_field="msg", tag="alert", forbid_unknown_fields=True):
    """An anomaly event on one sensor raised by the processor."""

    schema_version: Version
    site: str
    sensor_id: SensorId
    machine: str
    type: SensorType
    ts: float
    severity: Severity
    kind: str
    score: float
    failure_probability: float
    value: float
    message: str


class BatteryDispatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One battery's part of a dispatch plan: power per step (> 0 discharges) and SOC at each step boundary."""

    name: str
    p_batt_kw: list[float]
    soc_frac: list[float]
    capacity_kwh: float


class DispatchPlan(msgspec.Struct, tag_field="msg", tag="dispatch_plan", forbid_unknown_fields=True):
    """The storage optimizer's plan for the site's batteries over its horizon, with what it expects to save.

    `status` is how the plan was obtained (optimal, relaxed, time_limit, fallback_last, fallback_idle); costs are
    in `currency` over the horizon; `forecast` names where the load forecast came from.
    """

    schema_version: Version
    site: str
    plan_id: str
    created_ts: float
    start_ts: float
    step_s: float
    status: str
    message: str
    solve_time_s: float
    forecast: str
    currency: str
    load_kw: list[float]
    import_price_per_kwh: list[float]
    export_price_per_kwh: list[float]
    grid_import_kw: list[float]
    batteries: list[BatteryDispatch]
    expected_cost: float
    cost_without_battery: float
    savings: float
    peak_import_kw: float
    peak_import_without_battery_kw: float
    relaxed: list[str] = []
    # where the import prices and the carbon term came from: day-ahead prices from `<prefix>.grid`, else the tariff
    price_source: str = ""
    carbon_source: str = ""
    carbon_kg_per_kwh: list[float] = []  # per step when the objective weighs carbon, else empty
    carbon_weight_per_kg: float = 0.0
    carbon_kg: float = 0.0  # expected grid-import emissions over the horizon, with and without the batteries
    carbon_kg_without_battery: float = 0.0


class CommandKind(StrEnum):
    """What a command asks of a device."""

    BATTERY_SETPOINT = "battery_setpoint"  # setpoint_kw: > 0 discharge, < 0 charge
    LOAD_LIMIT = "load_limit"  # a flexible load may draw at most setpoint_kw (0 = shifted away or curtailed)
    LOAD_RELEASE = "load_release"  # a flexible load runs as it wants again


class Command(msgspec.Struct, tag_field="msg", tag="command", forbid_unknown_fields=True):
    """A setpoint for one device from the rebalancer, valid until `valid_until_ts`; `reason` says why."""

    schema_version: Version
    site: str
    command_id: str
    ts: float
    target: str
    kind: CommandKind
    setpoint_kw: float
    valid_until_ts: float
    plan_id: str
    reason: str
    dry_run: bool = False


Message = ReadingBatch | Heartbeat | EnrichedBatch | Alert | DispatchPlan | Command

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


class InvalidMessage(ValueError):
    """A message that cannot be decoded or breaks the contract; the text says why."""


class GridMetric(StrEnum):
    """What a grid signal measures; the unit is fixed per metric (GRID_UNITS)."""

    CARBON_INTENSITY = "carbon_intensity"
    PRICE = "price"
    DEMAND = "demand"
    GENERATION_SHARE = "generation_share"


GRID_UNITS: Final[dict[GridMetric, str]] = {
    GridMetric.CARBON_INTENSITY: "gCO2/kWh",
    GridMetric.PRICE: "EUR/MWh",
    GridMetric.DEMAND: "MW",
    GridMetric.GENERATION_SHARE: "%",
}


class GridSignal(msgspec.Struct, tag_field="msg", tag="grid", forbid_unknown_fields=True):
    """One value of an external grid series over [start_ts, end_ts), on `<prefix>.grid` (its own topic and decoder).

    `source` names the adapter (gb-carbon-intensity, entsoe), `region` its area code, `fuel` the generation
    type for generation_share, `forecast` whether the value is a forecast rather than an outturn.
    """

    schema_version: Version
    site: str
    source: str
    region: str
    metric: GridMetric
    unit: str
    start_ts: float
    end_ts: float
    value: float
    fetched_ts: float
    fuel: str = ""
    forecast: bool = False


_grid_decoder: msgspec.msgpack.Decoder[GridSignal] = msgspec.msgpack.Decoder(GridSignal)


def encode_grid(signal: GridSignal) -> bytes:
    """Encode a grid signal to msgpack bytes."""
    return _encoder.encode(signal)


def decode_grid(data: bytes) -> GridSignal:
    """Decode and validate a grid signal; raise InvalidMessage with a readable reason."""
    try:
        signal = _grid_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidMessage(str(exc)) from exc
    if not all(math.isfinite(x) for x in (signal.start_ts, signal.end_ts, signal.value, signal.fetched_ts)):
        raise InvalidMessage("GridSignal fields must be finite numbers")
    if signal.end_ts <= signal.start_ts:
        raise InvalidMessage("GridSignal end_ts must be after start_ts")
    if signal.unit != GRID_UNITS[signal.metric]:
        raise InvalidMessage(f"GridSignal unit '{signal.unit}' is not {signal.metric.value}'s unit")
    return signal


class ForecastScope(StrEnum):
    """What a forecast is of: the whole site's load or one machine's."""

    SITE = "site"
    MACHINE = "machine"


class Forecast(msgspec.Struct, tag_field="msg", tag="forecast", forbid_unknown_fields=True):
    """Load forecast (kW) of the site or one machine on `<prefix>.forecasts` (its own decoder), keyed scope:id.

    Step i covers [start_ts + i * step_s, start_ts + (i + 1) * step_s); `p10`/`p50`/`p90` are its quantiles.
    `model` is the model the rolling-origin backtest selected (`model_version` its registry version, or
    `local-<n>` when fitted by the forecaster itself), `backtest_mase` its backtest error and
    `yardstick_mase` the weekly seasonal naive's on the same folds (0 when there was too little history).
    """

    schema_version: Version
    site: str
    scope: ForecastScope
    id: str
    issued_ts: float
    start_ts: float
    step_s: float
    p10: list[float]
    p50: list[float]
    p90: list[float]
    unit: str
    model: str
    model_version: str
    backtest_mase: float
    yardstick_mase: float
    history_steps: Annotated[int, msgspec.Meta(ge=0)]


_forecast_decoder: msgspec.msgpack.Decoder[Forecast] = msgspec.msgpack.Decoder(Forecast)


def encode_forecast(forecast: Forecast) -> bytes:
    """Encode a forecast to msgpack bytes."""
    return _encoder.encode(forecast)


def decode_forecast(data: bytes) -> Forecast:
    """Decode and validate a forecast; raise InvalidMessage with a readable reason."""
    try:
        forecast = _forecast_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidMessage(str(exc)) from exc
    n = len(forecast.p50)
    if len(forecast.p10) != n or len(forecast.p90) != n:
        raise InvalidMessage(f"p10/p50/p90 have {len(forecast.p10)}/{n}/{len(forecast.p90)} entries")
    values = [*forecast.p10, *forecast.p50, *forecast.p90, forecast.start_ts, forecast.step_s]
    if not all(math.isfinite(v) for v in values) or forecast.step_s <= 0:
        raise InvalidMessage("Forecast values must be finite and step_s positive")
    if any(lo > mid or mid > hi for lo, mid, hi in zip(forecast.p10, forecast.p50, forecast.p90, strict=True)):
        raise InvalidMessage("Forecast quantiles must satisfy p10 <= p50 <= p90")
    return forecast


def encode(message: Message) -> bytes:
    """Encode a message to msgpack bytes."""
    return _encoder.encode(message)


def decode(data: bytes) -> Message:
    """Decode and validate a message; raise InvalidMessage with a readable reason."""
    try:
        message = _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidMessage(str(exc)) from exc
    if isinstance(message, ReadingBatch):
        _check_batch(message)
    elif isinstance(message, DispatchPlan | Command):
        _check_control(message)
    else:
        if isinstance(message, EnrichedBatch):
            _check_enriched(message)
        _check_finite(message)
    return message


def _check_enriched(batch: EnrichedBatch) -> None:
    n = len(batch.sensor_ids)
    for name in ("types", "ts", "values", "score", "anomaly", "failure_probability", "status", "label", "energy_kwh"):
        size = len(getattr(batch, name))
        if size != n:
            raise InvalidMessage(f"column '{name}' has {size} entries, sensor_ids has {n}")
    if not math.isfinite(sum(batch.energy_kwh)):
        raise InvalidMessage("energy_kwh must be finite numbers")


def _check_batch(batch: ReadingBatch) -> None:
    n = len(batch.sensor_ids)
    columns: dict[str, list[Any]] = {
        "machines": batch.machines,
        "types": batch.types,
        "ts": batch.ts,
        "values": batch.values,
    }
    for name, column in columns.items():
        if len(column) != n:
            raise InvalidMessage(f"column '{name}' has {len(column)} entries, sensor_ids has {n}")
    if len(batch.fault_index) != len(batch.fault_kind):
        raise InvalidMessage("fault_index and fault_kind differ in length")
    if batch.fault_index and (min(batch.fault_index) < 0 or max(batch.fault_index) >= n):
        bad = next(i for i in batch.fault_index if not 0 <= i < n)
        raise InvalidMessage(f"fault_index {bad} outside 0..{n - 1}")
    # Fast path in C: a sum is finite only if no term is NaN or ±inf; a sum that merely overflows, or a
    # timestamp ≤ 0, falls through to the exact per-element check.
    if not math.isfinite(sum(batch.values)) and not all(math.isfinite(v) for v in batch.values):
        raise InvalidMessage("values must be finite numbers")
    if (not math.isfinite(sum(batch.ts)) or (batch.ts and min(batch.ts) <= 0)) and not all(
        math.isfinite(t) and t > 0 for t in batch.ts
    ):
        raise InvalidMessage("timestamps must be positive finite numbers")


def _check_control(message: DispatchPlan | Command) -> None:
    """A plan's series have one entry per step and every number is finite; a command's setpoint is finite."""
    if isinstance(message, Command):
        if not all(math.isfinite(x) for x in (message.ts, message.setpoint_kw, message.valid_until_ts)):
            raise InvalidMessage("Command fields must be finite numbers")
        return
    n = len(message.load_kw)
    series = [message.load_kw, message.import_price_per_kwh, message.export_price_per_kwh, message.grid_import_kw]
    series += [b.p_batt_kw for b in message.batteries]
    if message.carbon_kg_per_kwh and len(message.carbon_kg_per_kwh) != n:
        raise InvalidMessage(f"DispatchPlan carbon_kg_per_kwh must be empty or have {n} entries")
    series += [message.carbon_kg_per_kwh] if message.carbon_kg_per_kwh else []
    if any(len(x) != n for x in series) or any(len(b.soc_frac) != n + 1 for b in message.batteries):
        raise InvalidMessage(f"DispatchPlan series must have {n} entries per step (SOC: {n + 1})")
    numbers = [message.start_ts, message.step_s, message.expected_cost, message.savings, message.peak_import_kw]
    if not all(math.isfinite(sum(x)) for x in (*series, numbers, *(b.soc_frac for b in message.batteries))):
        raise InvalidMessage("DispatchPlan fields must be finite numbers")


def _check_finite(message: Heartbeat | Alert | EnrichedBatch) -> None:
    """Every float of the message is finite: NaN or ±inf would be stored as JSON null and break every reader."""
    if isinstance(message, Heartbeat):
        numbers = [message.ts, message.rate]
    elif isinstance(message, Alert):
        numbers = [message.ts, message.score, message.failure_probability, message.value]
    else:
        # a sum is finite only if every term is (or it overflowed: then fall through to the exact check)
        columns = (message.ts, message.values, message.score, message.failure_probability, message.energy_kwh)
        if all(math.isfinite(sum(c)) for c in columns):
            return
        numbers = [x for c in columns for x in c]
    if not all(math.isfinite(x) for x in numbers):
        raise InvalidMessage(f"{type(message).__name__} fields must be finite numbers")


def implausible(batch: ReadingBatch) -> list[int]:
    """Positions of the readings whose value lies outside its type's PLAUSIBLE range."""
    if not batch.values:
        return []
    if min(batch.values) >= _ALL_LO and max(batch.values) <= _ALL_HI:  # fast path in C: within every type's range
        return []
    return [
        i
        for i, (t, v) in enumerate(zip(batch.types, batch.values, strict=True))
        if not PLAUSIBLE[t][0] <= v <= PLAUSIBLE[t][1]
    ]


def select(batch: ReadingBatch, rows: list[int]) -> ReadingBatch:
    """A copy of the batch with only the given readings (in that order), fault labels renumbered."""
    where = {r: i for i, r in enumerate(rows)}
    faults = [(where[f], k) for f, k in zip(batch.fault_index, batch.fault_kind, strict=True) if f in where]
    return msgspec.structs.replace(
        batch,
        sensor_ids=[batch.sensor_ids[r] for r in rows],
        machines=[batch.machines[r] for r in rows],
        types=[batch.types[r] for r in rows],
        ts=[batch.ts[r] for r in rows],
        values=[batch.values[r] for r in rows],
        fault_index=[f for f, _ in faults],
        fault_kind=[k for _, k in faults],
    )


def describe_implausible(batch: ReadingBatch, rows: list[int]) -> str:
    """The dead-letter reason for implausible readings: the first few, with the range they broke."""
    shown = []
    for r in rows[:3]:
        t = batch.types[r]
        lo, hi = PLAUSIBLE[t]
        shown.append(f"{batch.sensor_ids[r]} ({t.value}) = {batch.values[r]:.6g} outside [{lo:g}, {hi:g}] {UNITS[t]}")
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    return f"implausible value: {'; '.join(shown)}{more}"
