"""The simulator's batteries and flexible loads in the running `gridwatch simulator`: obey `<prefix>.commands`, report
their state to Redis (`gw:<site>:batteries`, `gw:<site>:flexible`) for the storage optimizer and the rebalancer, and
their power meters in the site's readings (gateway `assets`)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from zoneinfo import ZoneInfo

import redis
import structlog
from confluent_kafka import Consumer, Message
from pydantic import Field

from gridwatch.common import kafka, redisclient
from gridwatch.common.asset_settings import SiteAssetsSettings
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import Command, ReadingBatch
from gridwatch.common.shutdown import StopFlag
from gridwatch.simulator.assets import BatteryModel, FlexibleLoadModel, meter_batch


class AssetSettings(SiteAssetsSettings):
    """Which assets the simulator models: the EnergySite's batteries and flexible loads, when enabled."""

    enabled: bool = Field(default=False, alias="GRIDWATCH_SIM_ASSETS")
    step_s: float = Field(default=1.0, gt=0, le=60, alias="GRIDWATCH_SIM_ASSETS_STEP_S")


class AssetLoop:
    """Steps the modelled assets in real time, applying every command that arrives."""

    def __init__(self, settings: AssetSettings, stop: StopFlag) -> None:
        self.settings = settings
        self.stop = stop
        self.log = structlog.get_logger(__name__)  # the simulator's logging, already configured
        zone = ZoneInfo(settings.timezone)
        self.batteries = [BatteryModel(b, soc_frac=b.initial_soc if b.initial_soc is not None else b.target)
                          for b in settings.batteries]  # fmt: skip
        self.loads = [FlexibleLoadModel(f, zone) for f in settings.flexible_loads]
        self.keys = Keys(settings.site)
        self.redis = redisclient.connect(settings)
        self.topic = settings.topic("commands")
        client_id = f"simulator-assets@{socket.gethostname()}"
        group = f"{settings.prefix}.simulator-assets"
        self.consumer = Consumer(
            kafka.consumer_config(settings.kafka_bootstrap, group, client_id, **{"auto.offset.reset": "latest"})
        )
        self.assets: list[BatteryModel | FlexibleLoadModel] = [*self.batteries, *self.loads]
        self.applied = 0
        self.thread = threading.Thread(target=self.run, name="simulator-assets", daemon=True)

    def apply(self, messages: list[Message]) -> None:
        """Hand every command to the asset it targets."""

        def skip(msg: Message, reason: str) -> None:
            self.log.warning("undecodable command skipped", reason=reason)

        for _, cmd in kafka.decoded(messages, skip):
            if not isinstance(cmd, Command) or cmd.site != self.settings.site or cmd.dry_run:
                continue
            for asset in self.assets:
                if asset.cfg.name == cmd.target:
                    asset.command(cmd)
                    self.applied += 1

    def meters(self, seq: int, ts: float) -> ReadingBatch | None:
        """The assets' power meters for the simulator's readings (None without assets)."""
        if not self.assets:
            return None
        return meter_batch(self.settings.site, seq, ts, self.batteries, self.loads)

    def report(self, now: float) -> None:
        """Write every asset's state to Redis."""
        pipe = self.redis.pipeline(transaction=False)
        for b in self.batteries:
            pipe.hset(self.keys.batteries, b.cfg.name, b.state(now))
        for f in self.loads:
            pipe.hset(self.keys.flexible_loads, f.cfg.name, f.state(now))
        pipe.execute()

    def run(self) -> None:
        """Until stopped: take commands, step the assets, report."""
        s = self.settings
        kafka.ensure_topics(s.kafka_bootstrap, [self.topic], s.partitions, s.replication_factor)
        self.consumer.subscribe([self.topic])
        last = time.time()
        try:
            while self.stop.running:
                messages = self.consumer.consume(num_messages=100, timeout=s.step_s)
                if messages:
                    self.apply(messages)
                now = time.time()
                for asset in self.assets:
                    asset.step(now, now - last)
                last = now
                with contextlib.suppress(redis.RedisError):
                    self.report(now)
        finally:
            self.consumer.close()

    def start(self) -> AssetLoop:
        """Run in a background thread."""
        self.log.info(
            "simulated assets", batteries=[b.cfg.name for b in self.batteries], loads=[f.cfg.name for f in self.loads]
        )
        self.thread.start()
        return self
