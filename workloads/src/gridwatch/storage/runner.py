"""The storage optimizer's loop: every step, plan from the live SOC and the load forecast, publish the plan."""

from __future__ import annotations

import contextlib
import math
import socket
import time
import uuid

import msgspec
import psycopg
import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from psycopg.rows import TupleRow

from gridwatch.common import kafka, redisclient
from gridwatch.common.db.migrate import connect
from gridwatch.common.logging import configure_logging
from gridwatch.common.metrics import announce
from gridwatch.common.probes import ProbeServer
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SCHEMA_VERSION, BatteryDispatch, DispatchPlan, InvalidMessage, decode_grid, encode
from gridwatch.common.shutdown import StopFlag
from gridwatch.storage import inputs
from gridwatch.storage.planner import plan
from gridwatch.storage.problem import PlanRequest, PlanResult
from gridwatch.storage.settings import StorageSettings
from gridwatch.storage.signals import GridStore, Signals, plan_signals

LABELS = ("site", "component")
PLANS = Counter(
    "gridwatch_storage_plans_total", "Dispatch plans published, by how they were obtained", (*LABELS, "status")
)
SOLVE = Histogram(
    "gridwatch_storage_solve_seconds",
    "Time to obtain one plan (all stages)",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SAVINGS = Gauge("gridwatch_storage_expected_savings", "Expected savings of the current plan over its horizon", LABELS)
COST = Gauge("gridwatch_storage_expected_cost", "Expected cost of the current plan over its horizon", LABELS)
DEGRADED = Gauge("gridwatch_storage_plan_degraded", "1 while the current plan is not an optimal solve", LABELS)
LAST_PLAN = Gauge(
    "gridwatch_storage_last_plan_timestamp_seconds", "When the optimizer last published a plan (unix time)", LABELS
)
GRID_COVERAGE = Gauge(
    "gridwatch_storage_grid_coverage_ratio",
    "Share of the current plan's steps priced by day-ahead prices (signal=price) or with their own carbon "
    "intensity (signal=carbon) from <prefix>.grid; 0 means the plan runs on the tariff alone",
    (*LABELS, "signal"),
)
GRID_SIGNALS = Counter(
    "gridwatch_storage_grid_signals_total",
    "Messages read from <prefix>.grid, by outcome (used, ignored: another metric or site, invalid: dead-lettered)",
    (*LABELS, "outcome"),
)
HISTORY_SQL = """
SELECT extract(epoch FROM minute)::float8, energy_kwh * 60.0
FROM gw_history_type_minute
WHERE site = %s AND sensor_type = 'power' AND minute >= to_timestamp(%s)
ORDER BY minute
"""


class StorageOptimizer:
    """Plans the site's batteries every step; each plan goes to `<prefix>.dispatch` and Redis."""

    def __init__(self, settings: StorageSettings, stop: StopFlag, producer: Producer | None = None) -> None:
        self.settings = settings
        self.stop = stop
        self.log = configure_logging(settings.log_level, site=settings.site, component="storage")
        self.labels = announce(settings.site, "storage")
        self.keys = Keys(settings.site)
        self.topic = settings.topic("dispatch")
        client_id = f"storage@{socket.gethostname()}"
        self.producer = producer or Producer(kafka.producer_config(settings.kafka_bootstrap, client_id))
        self.delivery = kafka.DeliveryTracker()
        self.redis = redisclient.connect(settings)
        self.batteries = [inputs.to_battery(b) for b in settings.batteries]
        self.initial_soc = {b.name: b.initial_soc for b in settings.batteries}
        self.conn: psycopg.Connection[TupleRow] | None = None
        self.last: PlanResult | None = None
        self.peak_so_far: dict[int, float] = {}
        self.healthy = False
        self.grid = GridStore(keep_s=max(settings.grid_lookback_s, settings.horizon_hours * 3600.0))
        self.grid_consumer: Consumer | None = None
        for signal in ("price", "carbon"):
            GRID_COVERAGE.labels(**self.labels, signal=signal).set(0)
        for outcome in ("used", "ignored", "invalid"):
            GRID_SIGNALS.labels(**self.labels, outcome=outcome)

    # --- grid signals --------------------------------------------------------------------------------------
    def subscribe_grid(self) -> None:
        """Read `<prefix>.grid` from `grid_lookback_s` ago (no committed offsets: every start rebuilds the store)."""
        s = self.settings
        if not s.grid_signals:
            return
        kafka.ensure_topics(s.kafka_bootstrap, [s.topic("grid")], s.partitions, s.replication_factor)
        config = kafka.consumer_config(
            s.kafka_bootstrap,
            f"{s.prefix}.storage-grid",
            f"storage-grid@{socket.gethostname()}",
            **{"partition.assignment.strategy": "range", "auto.offset.reset": "latest"},
        )
        self.grid_consumer = Consumer(config)
        self.grid_consumer.subscribe([s.topic("grid")], on_assign=self._seek_lookback)
        # the first plan should already see the signals published before we started: join the group first
        deadline = time.monotonic() + 20.0
        while self.stop.running and time.monotonic() < deadline:
            messages = self.grid_consumer.consume(num_messages=1000, timeout=0.5)
            self._take_grid(messages)
            if self.grid_consumer.assignment() and not messages:
                break

    def _seek_lookback(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        since_ms = int((time.time() - self.settings.grid_lookback_s) * 1000)
        wanted = [TopicPartition(p.topic, p.partition, since_ms) for p in partitions]
        try:
            found = consumer.offsets_for_times(wanted, timeout=10)
        except KafkaException as exc:  # lookback unknown: start from the end
            self.log.warning("grid lookback unavailable; reading new signals only", error=str(exc))
            found = partitions
        consumer.assign(found)

    def poll_grid(self, timeout: float = 0.0, rounds: int = 50) -> int:
        """Take every grid signal waiting on the topic into the store; returns how many were used."""
        if self.grid_consumer is None:
            return 0
        used = 0
        for _ in range(rounds):
            messages = self.grid_consumer.consume(num_messages=1000, timeout=timeout)
            if not messages:
                break
            used += self._take_grid(messages)
            timeout = 0.0
        self.grid.prune(time.time())
        return used

    def _take_grid(self, messages: list[Message]) -> int:
        used = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    self.log.warning("grid consume error", error=str(err))
                continue
            try:
                signal = decode_grid(msg.value() or b"")
            except InvalidMessage as exc:
                GRID_SIGNALS.labels(**self.labels, outcome="invalid").inc()
                self.log.warning("invalid grid signal dead-lettered", reason=str(exc), offset=msg.offset())
                kafka.dead_letter(self.producer, self.settings.topic("dlq"), msg, f"invalid grid signal: {exc}")
                continue
            ok = self.grid.add(signal, self.settings.site)
            GRID_SIGNALS.labels(**self.labels, outcome="used" if ok else "ignored").inc()
            used += ok
        return used

    def signals(self, starts: list[float], now: float, tariff: list[float]) -> Signals:
        """The plan's import prices and carbon term from the grid store, or the tariff alone."""
        s = self.settings
        return plan_signals(
            self.grid,
            starts,
            float(s.step_s),
            now,
            tariff,
            s.currency,
            s.grid_max_age_s,
            s.day_ahead_adder_per_kwh,
            use_carbon=s.carbon_weight_per_kg > 0,
        )

    # --- inputs --------------------------------------------------------------------------------------------
    def _history(self, since: float) -> list[tuple[float, float]]:
        conninfo = self.settings.postgres_conninfo
        if not conninfo:
            return []
        try:
            if self.conn is None:
                self.conn = connect(conninfo, "storage")
            rows = self.conn.execute(HISTORY_SQL, (self.settings.site, since)).fetchall()
            return [(float(r[0]), float(r[1])) for r in rows]
        except psycopg.Error as exc:
            self.log.warning("history unavailable; forecasting without it", error=str(exc))
            if self.conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self.conn.close()
            self.conn = None
            return []

    def _live_kw(self, now: float) -> float | None:
        """The site's load now: its metered power, which the batteries' meters are part of, plus their discharge."""
        raw = self.redis.hget(self.keys.aggregates, "total_power_kw")
        if raw is None:
            return None
        value = float(raw)
        names = [b.name for b in self.batteries]
        for state in self.redis.hmget(self.keys.batteries, names) if names else []:
            value += inputs.battery_kw(
                state.encode() if isinstance(state, str) else state, now, self.settings.state_max_age_s
            )
        return value if math.isfinite(value) else None

    def _soc(self, now: float) -> list[float]:
        """Each battery's SOC: reported and fresh, else what the last plan predicted for now, else its target."""
        raw = self.redis.hmget(self.keys.batteries, [b.name for b in self.batteries]) if self.batteries else []
        out = []
        for b, value in zip(self.batteries, raw, strict=True):
            soc = inputs.battery_soc(
                value.encode() if isinstance(value, str) else value, now, self.settings.state_max_age_s
            )
            if soc is None:
                soc = self._predicted(b.name, now)
            if soc is None:
                soc = self.initial_soc.get(b.name) or b.soc_target_frac
            out.append(min(max(soc, 0.0), 1.0))
        return out

    def _predicted(self, name: str, now: float) -> float | None:
        last = self.last
        if last is None:
            return None
        i = round((now - last.start_ts) / last.step_s)
        for sched in last.batteries:
            if sched.name == name and 0 <= i < len(sched.soc_frac):
                return sched.soc_frac[i]
        return None

    def request(self, now: float) -> tuple[PlanRequest, str, Signals]:
        """The plan request for the step `now` falls in, the forecast's source and the grid signals it used."""
        s = self.settings
        start = inputs.align(now, s.step_s)
        starts = inputs.step_starts(start, s.step_s, s.steps)
        history = self._history(start - s.history_days * inputs.DAY_S)
        forecast = inputs.seasonal_naive(history, starts, s.step_s, self._live_kw(now))
        # the forecaster's site forecast (when `gridwatch forecaster` runs) wins where it reaches
        raw = [v.encode() if isinstance(v, str) else v for v in self.redis.hvals(f"gw:{s.site}:forecasts")]
        forecast = inputs.overlay_forecaster(forecast, raw, starts, now, 2 * 3600.0)
        windows = inputs.billing_windows(s, starts.tolist())
        peak = self.peak_so_far.get(windows[0], 0.0)
        grid = self.signals(starts.tolist(), now, inputs.import_prices(s, starts.tolist()))
        req = PlanRequest(
            start_ts=start,
            step_s=float(s.step_s),
            load_kw=forecast.load_kw,
            import_price_per_kwh=grid.import_price_per_kwh,
            export_price_per_kwh=[s.export_price] * s.steps,
            batteries=self.batteries,
            soc_initial_frac=self._soc(now),
            grid_import_max_kw=s.grid_import_max_kw,
            grid_export_max_kw=s.grid_export_max_kw,
            carbon_kg_per_kwh=grid.carbon_kg_per_kwh,
            carbon_weight_per_kg=s.carbon_weight_per_kg,
            demand_charge_per_kw=s.demand_charge_per_kw,
            billing_window=windows,
            peak_so_far_kw=peak,
            soc_target_penalty_per_kwh=s.soc_target_penalty_per_kwh,
            time_limit_s=s.time_limit_s,
        )
        return req, forecast.source, grid

    # --- one step ------------------------------------------------------------------------------------------
    def step(self, now: float) -> DispatchPlan:
        """Plan once for the step `now` falls in and publish the plan."""
        self._observe_import(now)
        req, source, grid = self.request(now)
        result = plan(req, self.last)
        if result.status.value in ("optimal", "relaxed", "time_limit"):
            self.last = result
        message = to_message(self.settings, result, source, now, grid)
        payload = encode(message)
        kafka.produce(self.producer, self.topic, payload, self.settings.site.encode(), on_delivery=self.delivery)
        self.redis.set(self.keys.storage_plan, msgspec.json.encode(message))
        PLANS.labels(**self.labels, status=result.status.value).inc()
        SOLVE.labels(**self.labels).observe(result.solve_time_s)
        SAVINGS.labels(**self.labels).set(result.savings)
        COST.labels(**self.labels).set(result.expected_cost)
        DEGRADED.labels(**self.labels).set(0 if result.status.value == "optimal" else 1)
        LAST_PLAN.labels(**self.labels).set(now)
        GRID_COVERAGE.labels(**self.labels, signal="price").set(grid.price_coverage)
        GRID_COVERAGE.labels(**self.labels, signal="carbon").set(grid.carbon_coverage)
        self.log.info(
            "plan published",
            status=result.status.value,
            solve_s=round(result.solve_time_s, 4),
            expected_cost=round(result.expected_cost, 4),
            savings=round(result.savings, 4),
            forecast=source,
            prices=grid.price_source,
            carbon=grid.carbon_source,
            detail=result.message if result.status.value != "optimal" else "",
        )
        return message

    def _observe_import(self, now: float) -> None:
        """The grid import now (site load minus battery output, as reported) raises the billing window's peak so
        far, so plans do not spend the battery shaving below a peak the window has already billed."""
        live = self._live_kw(now)
        if live is None:
            return
        batteries = 0.0
        for raw in self.redis.hvals(self.keys.batteries):
            with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                batteries += msgspec.json.decode(raw, type=inputs.BatteryState).p_kw
        window = inputs.billing_windows(self.settings, [now])[0]
        peak = max(self.peak_so_far.get(window, 0.0), live - batteries, 0.0)
        self.peak_so_far = {window: peak}  # earlier windows are billed and done

    def run(self) -> None:
        """Plan at every step boundary until stopped."""
        s = self.settings
        self.log.info("storage optimizer starting", batteries=[b.name for b in self.batteries], step_s=s.step_s)
        kafka.ensure_site_topics(s)
        self.subscribe_grid()
        try:
            while self.stop.running:
                now = time.time()
                try:
                    self.poll_grid(timeout=1.0)
                    self.step(now)
                    self.healthy = True
                except (redis.RedisError, OSError) as exc:
                    self.healthy = False
                    self.log.warning("step failed; retrying", error=str(exc))
                    self.stop.wait(5.0)
                    continue
                self.producer.poll(0)
                next_step = inputs.align(now, s.step_s) + s.step_s
                self.stop.wait(max(next_step - time.time(), 0.5))
        finally:
            self.producer.flush(10)
            if self.grid_consumer is not None:
                with contextlib.suppress(Exception):
                    self.grid_consumer.close()
            if self.conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self.conn.close()
            self.log.info("storage optimizer stopped")


def to_message(s: StorageSettings, r: PlanResult, source: str, now: float, grid: Signals | None = None) -> DispatchPlan:
    """The wire message of a plan."""
    caps = {b.name: b.capacity_kwh for b in s.batteries}
    return DispatchPlan(
        schema_version=SCHEMA_VERSION,
        site=s.site,
        plan_id=uuid.uuid4().hex,
        created_ts=now,
        start_ts=r.start_ts,
        step_s=r.step_s,
        status=r.status.value,
        message=r.message,
        solve_time_s=r.solve_time_s,
        forecast=source,
        currency=s.currency,
        load_kw=r.load_kw,
        import_price_per_kwh=r.import_price_per_kwh,
        export_price_per_kwh=r.export_price_per_kwh,
        grid_import_kw=r.grid_import_kw,
        batteries=[
            BatteryDispatch(name=b.name, p_batt_kw=b.p_batt_kw, soc_frac=b.soc_frac, capacity_kwh=caps.get(b.name, 0.0))
            for b in r.batteries
        ],
        expected_cost=r.expected_cost,
        cost_without_battery=r.cost_without_battery,
        savings=r.savings,
        peak_import_kw=r.peak_import_kw,
        peak_import_without_battery_kw=r.peak_import_without_battery_kw,
        relaxed=r.relaxed,
        price_source=grid.price_source if grid is not None else "tariff",
        carbon_source=grid.carbon_source if grid is not None else "",
        carbon_kg_per_kwh=list(grid.carbon_kg_per_kwh) if grid is not None else [],
        carbon_weight_per_kg=s.carbon_weight_per_kg,
        carbon_kg=r.carbon_kg,
        carbon_kg_without_battery=r.carbon_kg_without_battery,
    )


def main(settings: StorageSettings) -> None:
    """Entry point of `gridwatch storage`."""
    stop = StopFlag().install()
    optimizer = StorageOptimizer(settings, stop)
    probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=lambda: optimizer.healthy)
    probes.start()
    try:
        optimizer.run()
    finally:
        probes.stop()
