"""The API's typed contract: every response body and WebSocket event as a msgspec Struct, published in OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

from gridwatch.common.live import LiveChange
from gridwatch.common.schema import Alert, SensorType, Severity
from gridwatch.common.state import SensorState

T = TypeVar("T")
# Units of the fields whose names do not carry one (the others end in _kw, _kwh, _s, _seconds, ...).
Epoch = Annotated[float, msgspec.Meta(description="Time as Unix epoch seconds (UTC)")]
Money = Annotated[float, msgspec.Meta(description="Money in the body's `currency` (ISO 4217), at the site's tariff")]

__all__ = ["SensorState"]


class Page(msgspec.Struct, Generic[T]):
    """The one pagination envelope of every list: one page of items and the total before paging."""

    items: list[T]
    total: int
    limit: int
    offset: int


class FieldError(msgspec.Struct):
    """One invalid request field (422)."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An error as RFC 9457 problem details (`application/problem+json`); `detail` never carries internal text."""

    title: str
    status: int
    type: str = "about:blank"
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Health(msgspec.Struct):
    """Process health: always answered while the process runs."""

    status: Literal["ok", "degraded"]
    redis: Literal["up", "down"]
    site: str


class Probe(msgspec.Struct):
    """Liveness or readiness probe."""

    status: Literal["ok", "ready", "not ready"]


class StatusCounts(msgspec.Struct):
    """Sensors per status bin."""

    normal: int
    warning: int
    critical: int


class RiskySensor(msgspec.Struct):
    """A sensor and its failure probability."""

    id: str
    failure_probability: float


class DashboardStats(msgspec.Struct):
    """Site aggregates: power, energy, readings, anomalies, status bins and the riskiest sensors."""

    site: str
    total_sensors: int
    total_power_kw: float
    energy_kwh: float
    readings_total: int
    anomalies_total: int
    status_counts: StatusCounts
    active_anomalies: int
    top_failure_probabilities: list[RiskySensor]
    last_reading_ts: Annotated[float | None, msgspec.Meta(description="Unix epoch seconds (UTC)")]
    updated_at: Annotated[float | None, msgspec.Meta(description="Unix epoch seconds (UTC)")]


class ProducerInfo(msgspec.Struct):
    """A producer's last heartbeat and whether it counts as connected."""

    producer: str
    ts: float
    received_at: float
    sensors: int
    readings_sent: int
    rate: Annotated[float, msgspec.Meta(description="Readings per second the producer reported sending")]
    age_seconds: float
    connected: bool


class ProducerStatus(msgspec.Struct):
    """Every producer's last heartbeat and whether any is connected."""

    connected: bool
    last_heartbeat: float | None
    timeout_seconds: float
    producers: list[ProducerInfo]


class Realtime(msgspec.Struct):
    """Sensors (riskiest first), site stats and producer status in one body."""

    sensors: list[SensorState]
    stats: DashboardStats
    producer: ProducerStatus


class AlertRecord(msgspec.Struct):
    """An alert in its lifecycle: active, acknowledged or cleared."""

    id: int
    fingerprint: str
    rule: str
    sensor_id: str | None
    machine: str | None
    severity: Severity
    state: Literal["active", "acknowledged", "cleared"]
    message: str
    value: Annotated[
        float | None,
        msgspec.Meta(
            description="What the rule measured: a threshold rule's reading in its sensor type's unit, a failure"
            " probability (0-1), a silent sensor's age in seconds, an anomalous fraction of readings (0-1)"
        ),
    ]
    count: int
    first_seen: Epoch
    last_seen: Epoch
    acknowledged_at: Annotated[float | None, msgspec.Meta(description="Unix epoch seconds (UTC)")]
    acknowledged_by: str | None
    cleared_at: Annotated[float | None, msgspec.Meta(description="Unix epoch seconds (UTC)")]


class AlertEvent(msgspec.Struct):
    """One lifecycle event of an alert."""

    id: int
    event: str
    at: float
    actor: str | None
    severity: str
    state: str
    message: str | None
    value: float | None
    count: int


class AlertDetail(AlertRecord):
    """An alert with its lifecycle events, oldest first."""

    events: list[AlertEvent] = []


class HistoryPoint(msgspec.Struct):
    """One bucket of a series."""

    ts: Annotated[float, msgspec.Meta(description="Start of the bucket, Unix epoch seconds (UTC)")]
    value: Annotated[float, msgspec.Meta(description="The bucket's value, in the series' `unit`")]


class HistorySeries(msgspec.Struct):
    """A downsampled series of one-minute rollups: `step`-second buckets, or the site's local days or hours (`per`)."""

    sensor: str | None
    type: SensorType | None
    metric: Literal["mean", "min", "max", "last", "energy_kwh", "anomalies", "readings"]
    from_: Epoch = msgspec.field(name="from")
    to: Epoch
    step: Annotated[int, msgspec.Meta(description="Bucket width in seconds (nominal with `per`)")]
    points: list[HistoryPoint]
    per: Literal["hour", "day"] | None = None
    timezone: str = "UTC"
    unit: Annotated[
        str | None,
        msgspec.Meta(
            description="Unit of the points' values: the sensor type's (kW, A, V, °C, bar, mm/s) for mean/min/max/last,"
            " kWh for energy_kwh, `readings` for anomalies and readings; null when the sensor has no history"
        ),
    ] = None


class EnergyBucket(msgspec.Struct):
    """Energy of one local day or hour [start, end) and its cost at the site's tariff."""

    start: Epoch
    end: Epoch
    energy_kwh: float
    cost: Money


class EnergyCost(msgspec.Struct):
    """The site's energy and its cost per local day or hour over [from, to), priced by the server."""

    site: str
    timezone: str
    currency: str
    per: Literal["hour", "day"]
    from_: Epoch = msgspec.field(name="from")
    to: Epoch
    buckets: list[EnergyBucket]
    total_energy_kwh: float
    total_cost: Money
    pricing: str


class SiteConfig(msgspec.Struct):
    """What every view needs to know about the site: its name, time zone (IANA), currency and local day."""

    site: str
    timezone: str
    currency: str
    utc_offset_s: int
    today_start: float
    now: float


class TypeSummary(msgspec.Struct):
    """Totals of one sensor type over a period."""

    type: str
    energy_kwh: float
    anomalies: int
    readings: int
    sensors: int


class HistorySummary(msgspec.Struct):
    """Totals per sensor type over a period."""

    from_: float = msgspec.field(name="from")
    to: float
    types: list[TypeSummary]
    total_energy_kwh: float
    total_anomalies: int
    total_readings: int


class Suggestion(msgspec.Struct):
    """One optimization recommendation with its evidence and estimated savings."""

    id: str
    kind: Literal["peak_shifting", "maintenance", "efficiency", "operational"]
    title: str
    description: str
    priority: Annotated[float, msgspec.Meta(description="Urgency from 0 (none) to 100")]
    machine: str | None
    sensors: list[str]
    evidence: dict[str, Any]
    estimated_saving_kwh: float
    estimated_saving_currency: Annotated[
        float, msgspec.Meta(description="Estimated saving in the page's `currency` over its `window_hours`")
    ]


class SuggestionPage(Page[Suggestion]):
    """A page of suggestions, highest priority first, with when and over what window they were computed."""

    generated_at: float
    currency: str
    window_hours: float


class TariffPeriod(msgspec.Struct):
    """A time-of-use price period, local time, [start_hour, end_hour)."""

    name: str
    start_hour: float
    end_hour: float
    price: float
    days: list[int]


class TariffInfo(msgspec.Struct):
    """The site's tariff: currency, time zone and price periods."""

    currency: str
    timezone: str
    periods: list[TariffPeriod]


class Condition(msgspec.Struct, omit_defaults=True):
    """A Kubernetes-style condition of the EnergySite (Ready, Progressing, Degraded)."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    lastTransitionTime: str | None = None  # noqa: N815 - Kubernetes' field name


class ComponentStatus(msgspec.Struct):
    """Replicas of one workload: desired and ready."""

    desired: int
    ready: int


class HelmStatus(msgspec.Struct, omit_defaults=True):
    """The site's Helm release."""

    revision: int | None = None
    chartVersion: str | None = None  # noqa: N815
    error: str | None = None


class ScalingDecision(msgspec.Struct, omit_defaults=True):
    """One autoscaling evaluation of the processor: replicas from -> to, the lag that drove it and why."""

    time: str | float | None = None
    from_: int | None = msgspec.field(default=None, name="from")
    to: int | None = None
    lag: float | None = None
    unit: str | None = None  # of lag: readings or messages
    reason: str | None = None


class ScalingCapacity(msgspec.Struct, omit_defaults=True):
    """What one processor drained in the best recent window in which every processor was busy."""

    messagesPerSecondPerProcessor: float | None = None  # noqa: N815
    measuredAt: str | None = None  # noqa: N815


class ScalingStatus(msgspec.Struct, omit_defaults=True):
    """The processor autoscaler's state."""

    replicas: int | None = None
    lastScaleTime: str | float | None = None  # noqa: N815
    lastDecision: ScalingDecision | None = None  # noqa: N815
    lastEvaluation: ScalingDecision | None = None  # noqa: N815
    capacity: ScalingCapacity | None = None


class SiteStatus(msgspec.Struct, omit_defaults=True):
    """The operator's view of this site (EnergySite status), or `mode: local` outside Kubernetes."""

    mode: Literal["local", "kubernetes"]
    kubernetes: bool
    message: str | None = None
    site: str | None = None
    namespace: str | None = None
    generation: int | None = None
    observedGeneration: int | None = None  # noqa: N815 - the EnergySite's own field name
    ready: bool = False
    paused: bool = False
    conditions: list[Condition] = []
    components: dict[str, ComponentStatus] = {}
    processors: str | int | None = None  # "ready/desired" as the operator reports it
    consumerLag: int | None = None  # noqa: N815 - in Kafka messages
    consumerLagReadings: int | None = None  # noqa: N815 - in readings, summed over partitions
    helm: HelmStatus | None = None
    scaling: ScalingStatus | None = None
    sensors: int | None = None
    autoscaling: bool = False


# --- WebSocket events (server -> client), tagged by `type` ---


class SnapshotEvent(msgspec.Struct, tag_field="type", tag="snapshot"):
    """Sent once on connect: stats, producer status and the riskiest sensors."""

    ts: float
    stats: DashboardStats
    producer: ProducerStatus
    sensors: list[SensorState]


class UpdateEvent(msgspec.Struct, tag_field="type", tag="update"):
    """Sent every update interval: fresh stats and what changed since the last update."""

    ts: float
    stats: DashboardStats
    producer: ProducerStatus
    readings: int
    anomalies: int
    changed: list[LiveChange]


class CriticalAlertsEvent(msgspec.Struct, tag_field="type", tag="critical_alerts"):
    """A burst of critical alerts, as soon as the processor raises them."""

    ts: float
    alerts: list[Alert]


class ProducerConnectedEvent(msgspec.Struct, tag_field="type", tag="producer_connected"):
    """A producer's heartbeats came back."""

    ts: float
    producer: ProducerStatus


class ProducerDisconnectedEvent(msgspec.Struct, tag_field="type", tag="producer_disconnected"):
    """No producer has sent a heartbeat within the timeout."""

    ts: float
    producer: ProducerStatus


class ErrorEvent(msgspec.Struct, tag_field="type", tag="error"):
    """The live state is unavailable (Redis down); updates resume by themselves."""

    ts: float
    detail: str


LiveEvent = (
    SnapshotEvent | UpdateEvent | CriticalAlertsEvent | ProducerConnectedEvent | ProducerDisconnectedEvent | ErrorEvent
)
