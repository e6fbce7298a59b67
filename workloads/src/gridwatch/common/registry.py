"""The model registry in PostgreSQL (gw_models): register, list, promote by backtest, roll back; and its Redis keys.

Shared by the trainer (registers and promotes), the processor and forecaster (load the promoted model), the CLI
and the API. Table: common/db/migrations/010_model_registry.sql. Metrics are "lower is better": a candidate is
promoted only if its primary metric beats the promoted model's, measured on the same data, by `margin`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import psycopg
import redis
from psycopg.rows import TupleRow

from gridwatch.common.artifact import checksum


class ModelKind(StrEnum):
    """What a model is for."""

    FORECASTER = "forecaster"
    DETECTOR = "detector"


class ModelState(StrEnum):
    """A model's place in its life: trained, serving, or no longer serving."""

    CANDIDATE = "candidate"
    PROMOTED = "promoted"
    RETIRED = "retired"


# the backtest metric that decides promotion, per kind (lower is better)
PRIMARY_METRIC: dict[ModelKind, str] = {ModelKind.FORECASTER: "mase", ModelKind.DETECTOR: "mass_volume"}


class RegistryError(LookupError):
    """A registry operation that cannot be done (unknown version, nothing to roll back to); the text says why."""


@dataclass(frozen=True)
class ModelRecord:
    """One row of the registry, without its artifact bytes."""

    site: str
    kind: ModelKind
    version: int
    state: ModelState
    algorithm: str
    window_start: float
    window_end: float
    features: list[str]
    metrics: dict[str, Any]
    checksum: str
    size_bytes: int
    created_by: str
    created_at: float
    promoted_at: float | None = None
    retired_at: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """`<kind>-v<version>`: how logs, metrics and forecasts name the model."""
        return f"{self.kind.value}-v{self.version}"

    @property
    def primary(self) -> float | None:
        """The value of the kind's promotion metric, if recorded."""
        value = self.metrics.get(PRIMARY_METRIC[self.kind])
        return float(value) if isinstance(value, int | float) else None


_COLUMNS = (
    "site, kind, version, state, algorithm, extract(epoch FROM window_start), extract(epoch FROM window_end), "
    "features, metrics, checksum, octet_length(artifact), created_by, extract(epoch FROM created_at), "
    "extract(epoch FROM promoted_at), extract(epoch FROM retired_at)"
)
LIST_SQL = (
    f"SELECT {_COLUMNS} FROM gw_models WHERE site = %s AND (%s::text IS NULL OR kind = %s) ORDER BY kind, version DESC"
)
_ONE_SQL = f"SELECT {_COLUMNS} FROM gw_models WHERE site = %s AND kind = %s AND version = %s"
_PROMOTED_SQL = f"SELECT {_COLUMNS} FROM gw_models WHERE site = %s AND kind = %s AND state = 'promoted'"
_EVENT_SQL = "INSERT INTO gw_model_events (site, kind, version, event, actor, reason) VALUES (%s, %s, %s, %s, %s, %s)"


def _epoch(value: Any) -> float | None:
    return None if value is None else float(value)


def record(row: tuple[Any, ...]) -> ModelRecord:
    """A ModelRecord from a row of LIST_SQL's columns."""
    features = row[7] if isinstance(row[7], list) else json.loads(row[7])
    metrics = row[8] if isinstance(row[8], dict) else json.loads(row[8])
    return ModelRecord(
        site=str(row[0]),
        kind=ModelKind(row[1]),
        version=int(row[2]),
        state=ModelState(row[3]),
        algorithm=str(row[4]),
        window_start=float(row[5]),
        window_end=float(row[6]),
        features=[str(f) for f in features],
        metrics=dict(metrics),
        checksum=str(row[9]),
        size_bytes=int(row[10]),
        created_by=str(row[11]),
        created_at=float(row[12]),
        promoted_at=_epoch(row[13]),
        retired_at=_epoch(row[14]),
    )


Conn = psycopg.Connection[TupleRow]


def register(
    conn: Conn,
    site: str,
    kind: ModelKind,
    *,
    algorithm: str,
    window: tuple[float, float],
    features: list[str],
    metrics: dict[str, Any],
    artifact: bytes,
    created_by: str,
) -> ModelRecord:
    """Store a new candidate with the next version number of its kind."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"gw_models:{site}:{kind.value}",))
        row = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM gw_models WHERE site = %s AND kind = %s", (site, kind.value)
        ).fetchone()
        version = int(row[0]) if row else 1
        conn.execute(
            "INSERT INTO gw_models (site, kind, version, state, algorithm, window_start, window_end, features, "
            "metrics, artifact, checksum, created_by) "
            "VALUES (%s, %s, %s, 'candidate', %s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, %s)",
            (
                site,
                kind.value,
                version,
                algorithm,
                window[0],
                window[1],
                json.dumps(features),
                json.dumps(metrics, allow_nan=False),
                artifact,
                checksum(artifact),
                created_by,
            ),
        )
        conn.execute(_EVENT_SQL, (site, kind.value, version, "registered", created_by, ""))
    return get(conn, site, kind, version)


def list_models(conn: Conn, site: str, kind: ModelKind | None = None) -> list[ModelRecord]:
    """Every model of the site (of one kind), newest first within each kind."""
    k = None if kind is None else kind.value
    return [record(r) for r in conn.execute(LIST_SQL, (site, k, k)).fetchall()]


def get(conn: Conn, site: str, kind: ModelKind, version: int) -> ModelRecord:
    """One model; RegistryError if there is no such version."""
    row = conn.execute(_ONE_SQL, (site, kind.value, version)).fetchone()
    if row is None:
        raise RegistryError(f"no {kind.value} model version {version} for site '{site}'")
    return record(row)


def promoted(conn: Conn, site: str, kind: ModelKind) -> ModelRecord | None:
    """The model in service, if any."""
    row = conn.execute(_PROMOTED_SQL, (site, kind.value)).fetchone()
    return None if row is None else record(row)


def artifact_of(conn: Conn, site: str, kind: ModelKind, version: int) -> tuple[bytes, str]:
    """The artifact bytes of a model and the checksum the registry recorded for them."""
    row = conn.execute(
        "SELECT artifact, checksum FROM gw_models WHERE site = %s AND kind = %s AND version = %s",
        (site, kind.value, version),
    ).fetchone()
    if row is None:
        raise RegistryError(f"no {kind.value} model version {version} for site '{site}'")
    return bytes(row[0]), str(row[1])


def events(conn: Conn, site: str, kind: ModelKind, version: int) -> list[dict[str, Any]]:
    """The state changes of one model, oldest first."""
    rows = conn.execute(
        "SELECT event, extract(epoch FROM at), actor, reason FROM gw_model_events "
        "WHERE site = %s AND kind = %s AND version = %s ORDER BY id",
        (site, kind.value, version),
    ).fetchall()
    return [{"event": r[0], "at": float(r[1]), "actor": r[2], "reason": r[3]} for r in rows]


def note(conn: Conn, site: str, kind: ModelKind, version: int, event: str, actor: str, reason: str) -> None:
    """Record an event (e.g. 'kept': a candidate that did not beat the model in service, and why)."""
    with conn.transaction():
        conn.execute(_EVENT_SQL, (site, kind.value, version, event, actor, reason))


def promote(conn: Conn, site: str, kind: ModelKind, version: int, actor: str, reason: str = "") -> ModelRecord:
    """Make `version` the model in service, retiring the one before; idempotent for the version in service."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"gw_models:{site}:{kind.value}",))
        target = get(conn, site, kind, version)
        if target.state is ModelState.PROMOTED:
            return target
        _swap(conn, site, kind, version, actor, "promoted", reason)
    return get(conn, site, kind, version)


def rollback(conn: Conn, site: str, kind: ModelKind, actor: str) -> ModelRecord:
    """Retire the model in service and promote the one that served before it."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"gw_models:{site}:{kind.value}",))
        current = promoted(conn, site, kind)
        if current is None:
            raise RegistryError(f"no {kind.value} model is promoted for site '{site}': nothing to roll back")
        row = conn.execute(
            "SELECT version FROM gw_models WHERE site = %s AND kind = %s AND state = 'retired' "
            "AND promoted_at IS NOT NULL AND version <> %s ORDER BY promoted_at DESC LIMIT 1",
            (site, kind.value, current.version),
        ).fetchone()
        if row is None:
            raise RegistryError(f"{current.name} is the only {kind.value} model ever promoted: nothing to roll back to")
        previous = int(row[0])
        _swap(conn, site, kind, previous, actor, "rolled_back", f"rolled back from version {current.version}")
    return get(conn, site, kind, previous)


def _swap(conn: Conn, site: str, kind: ModelKind, version: int, actor: str, event: str, reason: str) -> None:
    retired = conn.execute(
        "UPDATE gw_models SET state = 'retired', retired_at = now() "
        "WHERE site = %s AND kind = %s AND state = 'promoted' RETURNING version",
        (site, kind.value),
    ).fetchall()
    for (old,) in retired:
        conn.execute(_EVENT_SQL, (site, kind.value, int(old), "retired", actor, f"replaced by version {version}"))
    conn.execute(
        "UPDATE gw_models SET state = 'promoted', promoted_at = clock_timestamp(), retired_at = NULL "
        "WHERE site = %s AND kind = %s AND version = %s",
        (site, kind.value, version),
    )
    conn.execute(_EVENT_SQL, (site, kind.value, version, event, actor, reason))


@dataclass(frozen=True)
class Decision:
    """Whether a candidate should replace the model in service, and why."""

    promote: bool
    reason: str


def decide(kind: ModelKind, candidate: float, in_service: float | None, margin: float) -> Decision:
    """Promote when nothing serves yet, or when the candidate's metric is at least `margin` (a fraction) lower
    than the served model's measured on the same backtest."""
    metric = PRIMARY_METRIC[kind]
    if in_service is None:
        return Decision(True, f"no model in service; {metric} {candidate:.4f}")
    bar = in_service * (1.0 - margin)
    if candidate <= bar:
        return Decision(
            True, f"{metric} {candidate:.4f} beats the served model's {in_service:.4f} by the {margin:.1%} margin"
        )
    return Decision(
        False,
        f"{metric} {candidate:.4f} does not beat the served model's {in_service:.4f} by {margin:.1%} (≤ {bar:.4f})",
    )


# --- Redis: promotion notices and what each replica runs ------------------------------------------------------
def channel(site: str) -> str:
    """Pub/sub channel on which a promotion (or rollback) is announced: JSON {"kind", "version"}."""
    return f"gw:{site}:models"


def running_key(site: str) -> str:
    """Hash `<component>@<host>` -> JSON {"kind", "version", "seen_ts", "failed_version", "error"}."""
    return f"gw:{site}:models:running"


RUNNING_TTL_S = 3600  # the hash expires when no replica reported for an hour


def announce(client: redis.Redis, site: str, kind: ModelKind, version: int) -> int:
    """Tell running replicas that `version` of `kind` is now the one to serve; returns the subscribers reached."""
    return int(client.publish(channel(site), json.dumps({"kind": kind.value, "version": version})))


def report_running(
    client: redis.Redis,
    site: str,
    replica: str,
    kind: ModelKind,
    version: int | None,
    failed_version: int | None = None,
    error: str = "",
) -> None:
    """Record which version a replica serves (the API's /api/v1/models shows it)."""
    value = {
        "kind": kind.value,
        "version": version,
        "seen_ts": time.time(),
        "failed_version": failed_version,
        "error": error[:500],
    }
    pipe = client.pipeline(transaction=True)
    pipe.hset(running_key(site), replica, json.dumps(value))
    pipe.expire(running_key(site), RUNNING_TTL_S)
    pipe.execute()


def when(ts: float | None) -> str:
    """An epoch time as ISO-8601 UTC (empty for None), for the CLI."""
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
