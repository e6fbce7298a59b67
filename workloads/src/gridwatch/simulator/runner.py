"""The simulator's main loop: pace ticks, produce keyed gateway batches and heartbeats to Kafka."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, Message, Producer

from gridwatch.common import kafka, tracing
from gridwatch.common.logging import configure_logging
from gridwatch.common.probes import ProbeServer
from gridwatch.common.schema import SCHEMA_VERSION, Heartbeat, encode
from gridwatch.common.shutdown import StopFlag
from gridwatch.simulator import metrics
from gridwatch.simulator.generator import Generator
from gridwatch.simulator.settings import SimulatorSettings

if TYPE_CHECKING:
    from gridwatch.simulator.site_assets import AssetLoop


class Simulator:
    """Owns the generator and the producer; `run` loops until stopped or max_ticks."""

    def __init__(self, settings: SimulatorSettings, stop: StopFlag, assets: AssetLoop | None = None) -> None:
        self.settings = settings
        self.stop = stop
        self.assets = assets  # batteries and flexible loads whose meters join every tick's readings
        self.log = configure_logging(settings.log_level, site=settings.site, component="simulator")
        self.generator = Generator(settings)
        self.labels = metrics.init(settings.site, settings.readings_per_second)
        self.producer = Producer(
            kafka.producer_config(settings.kafka_bootstrap, f"{settings.producer_id}@{socket.gethostname()}")
        )
        self.topic = settings.topic("readings")
        self.sent = 0
        self.connected = False

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            metrics.DELIVERY_ERRORS.labels(**self.labels).inc()
            self.log.warning("delivery failed", error=str(err))
        else:
            self.connected = True

    def _heartbeat(self, rate: float) -> None:
        beat = Heartbeat(
            schema_version=SCHEMA_VERSION,
            site=self.settings.site,
            producer=self.settings.producer_id,
            ts=time.time(),
            sensors=self.sensors,
            readings_sent=self.sent,
            rate=rate,
        )
        kafka.produce(
            self.producer, self.topic, encode(beat), self.settings.producer_id.encode(), on_delivery=self._on_delivery
        )

    @property
    def sensors(self) -> int:
        """The plant's sensors plus the assets' meters."""
        return self.generator.layout.size + (len(self.assets.assets) if self.assets is not None else 0)

    def run(self) -> int:
        """Produce until stopped; returns the number of readings produced."""
        s = self.settings
        outcome = kafka.ensure_site_topics(s)
        self.log.info("topics ready", topics=outcome)
        metrics.SENSORS.labels(**self.labels).set(self.sensors)
        tick_seconds = self.generator.layout.size / s.readings_per_second
        self.log.info(
            "simulating",
            sensors=self.sensors,
            rate=s.readings_per_second,
            gateways=len(self.generator.gateways),
            tick_seconds=tick_seconds,
        )
        started = time.monotonic()
        next_tick = started
        next_beat = started
        window_start, window_sent = started, 0
        rate = 0.0
        last_ts = 0.0
        readings = metrics.READINGS.labels(**self.labels)
        faulty = metrics.FAULTY.labels(**self.labels)
        batches = metrics.BATCHES.labels(**self.labels)
        try:
            while self.stop.running and (s.max_ticks == 0 or self.generator.tick < s.max_ticks):
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat(rate)
                    next_beat = now + s.heartbeat_interval_s
                if now < next_tick:
                    self.producer.poll(min(next_tick - now, 0.05))
                    continue
                tick = self.generator.next_tick()
                last_ts = max(time.time(), last_ts + 1e-6)
                for gateway, batch in self.generator.batches(tick, last_ts):
                    attrs = {
                        "gridwatch.gateway": gateway,
                        "gridwatch.seq": batch.seq,
                        "gridwatch.readings": len(batch.ts),
                    }
                    with tracing.produce_span(self.topic, gateway, attrs) as trace_kwargs:
                        kafka.produce(
                            self.producer,
                            self.topic,
                            encode(batch),
                            gateway.encode(),
                            on_delivery=self._on_delivery,
                            **trace_kwargs,
                        )
                    batches.inc()
                n = tick.values.size
                meters = self.assets.meters(self.generator.seq, last_ts) if self.assets is not None else None
                if meters is not None:
                    self.generator.seq += 1
                    kafka.produce(
                        self.producer,
                        self.topic,
                        encode(meters),
                        meters.gateway.encode(),
                        on_delivery=self._on_delivery,
                    )
                    batches.inc()
                    n += len(meters.values)
                self.sent += n
                window_sent += n
                readings.inc(n)
                faulty.inc(int((tick.labels >= 0).sum()))
                next_tick += tick_seconds
                if now - next_tick > 5 * tick_seconds + 1.0:  # far behind: do not burst to catch up
                    next_tick = now
                if now - window_start >= 2.0:
                    rate = window_sent / (now - window_start)
                    metrics.RATE.labels(**self.labels).set(rate)
                    window_start, window_sent = now, 0
            self._heartbeat(rate)
        finally:
            remaining = self.producer.flush(30)
            self.log.info("simulator stopped", produced=self.sent, undelivered=remaining)
        return self.sent


def main(settings: SimulatorSettings) -> None:
    """Entry point for `gridwatch simulator`."""
    stop = StopFlag().install()
    tracing.configure("gridwatch-simulator")
    from gridwatch.simulator.site_assets import AssetLoop, AssetSettings

    simulator = Simulator(settings, stop)  # configures logging first
    asset_settings = AssetSettings()
    if asset_settings.enabled:  # batteries and flexible loads that obey <prefix>.commands, metered in the readings
        simulator.assets = AssetLoop(asset_settings, stop).start()
    probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=lambda: simulator.connected).start()
    try:
        simulator.run()
    finally:
        probes.stop()
