"""The Redis layout: one place that names every key and channel of a site."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names for one site's state in Redis."""

    site: str

    @property
    def sensors(self) -> str:
        """Hash sensor_id -> JSON of the sensor's latest state."""
        return f"gw:{self.site}:sensors"

    @property
    def model(self) -> str:
        """Hash sensor_id -> the processor's detector state of the sensor (binary, see common/scoring.py)."""
        return f"gw:{self.site}:model"

    @property
    def index(self) -> str:
        """Sorted set of every sensor id (score 0, so ordered by id)."""
        return f"gw:{self.site}:index"

    def status(self, status: str) -> str:
        """Set of sensor ids currently in a status bin."""
        return f"gw:{self.site}:status:{status}"

    def type(self, sensor_type: str) -> str:
        """Set of sensor ids of a sensor type."""
        return f"gw:{self.site}:type:{sensor_type}"

    @property
    def failure(self) -> str:
        """Sorted set sensor_id -> failure probability, for the riskiest sensors."""
        return f"gw:{self.site}:failure"

    @property
    def aggregates(self) -> str:
        """Hash of site aggregates (power, energy, anomaly counts, update time)."""
        return f"gw:{self.site}:aggregates"

    @property
    def producers(self) -> str:
        """Hash producer id -> JSON of its last heartbeat."""
        return f"gw:{self.site}:producers"

    @property
    def channel(self) -> str:
        """Pub/sub channel for live updates."""
        return f"gw:{self.site}:live"

    @property
    def batteries(self) -> str:
        """Hash battery name -> JSON of its reported state (soc_frac, p_kw: > 0 discharging, ts)."""
        return f"gw:{self.site}:batteries"

    @property
    def flexible_loads(self) -> str:
        """Hash flexible load name -> JSON of its reported state (p_kw, running, limit_kw, ts)."""
        return f"gw:{self.site}:flexible"

    @property
    def storage_plan(self) -> str:
        """JSON of the storage optimizer's latest DispatchPlan."""
        return f"gw:{self.site}:storage:plan"

    @property
    def commands(self) -> str:
        """Hash target -> JSON of the rebalancer's latest Command for it."""
        return f"gw:{self.site}:commands"
