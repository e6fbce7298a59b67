"""Reads of a site's live state from Redis, shaped for the API."""

from __future__ import annotations

import time
from typing import cast

import redis.asyncio as aioredis

from gridwatch.api.contract import DashboardStats, ProducerInfo, ProducerStatus, RiskySensor, StatusCounts
from gridwatch.common.rediskeys import Keys
from gridwatch.common.schema import SensorType, Status
from gridwatch.common.state import SensorState, decode_beats, decode_states


class Repository:
    """Query helpers over one site's Redis keys."""

    def __init__(self, client: aioredis.Redis, site: str, producer_timeout_s: float) -> None:
        self.client = client
        self.keys = Keys(site)
        self.site = site
        self.producer_timeout_s = producer_timeout_s

    async def sensor_ids(self, status: Status | None, sensor_type: SensorType | None) -> list[str]:
        """Ids matching the filters, sorted."""
        k = self.keys
        sets = []
        if status is not None:
            sets.append(k.status(status.value))
        if sensor_type is not None:
            sets.append(k.type(sensor_type.value))
        raw = cast(
            "list[bytes]",
            list(await self.client.zrange(k.index, 0, -1) if not sets else await self.client.sinter(sets)),
        )
        return sorted(x.decode() for x in raw)

    async def page_of_all(self, offset: int, limit: int) -> tuple[int, list[str]]:
        """Total sensor count and one page of ids, paged inside Redis (cost independent of site size)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys.index)
        pipe.zrange(self.keys.index, offset, offset + limit - 1)
        total, raw = await pipe.execute()
        return int(total), [x.decode() for x in raw]

    async def sensors(self, ids: list[str]) -> list[SensorState]:
        """States of the given sensors, in the same order, skipping unknown ones."""
        if not ids:
            return []
        raw = await self.client.hmget(self.keys.sensors, ids)
        return decode_states(raw, self.site, "api")  # a corrupt record is reported and left out

    async def sensor(self, sensor_id: str) -> SensorState | None:
        """State of one sensor, or None."""
        raw = await self.client.hget(self.keys.sensors, sensor_id)
        states = decode_states([raw], self.site, "api")
        return states[0] if states else None

    async def stats(self) -> DashboardStats:
        """Site aggregates: power, energy, anomalies, status bins and riskiest sensors."""
        k = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(k.aggregates)
        pipe.zcard(k.index)
        for st in Status:
            pipe.scard(k.status(st.value))
        pipe.zrevrange(k.failure, 0, 9, withscores=True)
        agg, total, normal, warning, critical, top = await pipe.execute()
        a = {key.decode(): float(value) for key, value in agg.items()}
        return DashboardStats(
            site=self.site,
            total_sensors=int(total),
            total_power_kw=round(a.get("total_power_kw", 0.0), 3),
            energy_kwh=round(a.get("energy_kwh", 0.0), 4),
            readings_total=int(a.get("readings_total", 0)),
            anomalies_total=int(a.get("anomalies_total", 0)),
            status_counts=StatusCounts(normal=int(normal), warning=int(warning), critical=int(critical)),
            active_anomalies=int(warning) + int(critical),
            top_failure_probabilities=[RiskySensor(id=i.decode(), failure_probability=float(s)) for i, s in top],
            last_reading_ts=a.get("last_reading_ts"),
            updated_at=a.get("updated_at"),
        )

    async def producer_status(self) -> ProducerStatus:
        """Last heartbeat of every producer and whether any is connected."""
        raw = await self.client.hgetall(self.keys.producers)
        now = time.time()
        producers = []
        for beat in decode_beats(raw.values(), self.site, "api"):
            age = now - beat.received_at
            producers.append(
                ProducerInfo(
                    producer=beat.producer,
                    ts=beat.ts,
                    received_at=beat.received_at,
                    sensors=beat.sensors,
                    readings_sent=beat.readings_sent,
                    rate=beat.rate,
                    age_seconds=round(age, 3),
                    connected=age <= self.producer_timeout_s,
                )
            )
        producers.sort(key=lambda p: p.producer)
        return ProducerStatus(
            connected=any(p.connected for p in producers),
            last_heartbeat=max((p.received_at for p in producers), default=None),
            timeout_seconds=self.producer_timeout_s,
            producers=producers,
        )

    async def top_sensors(self, limit: int) -> list[SensorState]:
        """The `limit` sensors with the highest failure probability."""
        raw = cast("list[bytes]", await self.client.zrevrange(self.keys.failure, 0, max(limit - 1, 0)))
        ids = [x.decode() for x in raw]
        return await self.sensors(ids) if limit else []
