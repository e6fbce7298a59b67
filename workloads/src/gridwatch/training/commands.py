"""`gridwatch models list|promote|rollback`: the registry from the command line (promotion notices included)."""

from __future__ import annotations

import json

import redis

from gridwatch.common import redisclient, registry
from gridwatch.common.db.migrate import connect, ensure_schema
from gridwatch.common.registry import ModelKind, ModelRecord
from gridwatch.common.settings import CommonSettings

COLUMNS = ("KIND", "VERSION", "STATE", "ALGORITHM", "METRIC", "WINDOW (UTC)", "CREATED", "BY")


def _conninfo(settings: CommonSettings) -> str:
    if not settings.postgres_conninfo:
        raise SystemExit("the model registry needs GRIDWATCH_POSTGRES_DSN (or GRIDWATCH_POSTGRES_HOST)")
    return settings.postgres_conninfo


def table(records: list[ModelRecord]) -> str:
    """A fixed-width table of models, one line each."""
    rows = [COLUMNS]
    for r in records:
        metric = registry.PRIMARY_METRIC[r.kind]
        rows.append(
            (
                r.kind.value,
                str(r.version),
                r.state.value,
                r.algorithm,
                f"{metric}={r.primary:.4f}" if r.primary is not None else "-",
                f"{registry.when(r.window_start)[:16]} .. {registry.when(r.window_end)[:16]}",
                registry.when(r.created_at),
                r.created_by,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def as_json(records: list[ModelRecord]) -> str:
    """The models as a JSON list (the fields of /api/v1/models' items)."""
    return json.dumps(
        [
            {
                "kind": r.kind.value,
                "version": r.version,
                "state": r.state.value,
                "algorithm": r.algorithm,
                "window_start": r.window_start,
                "window_end": r.window_end,
                "features": r.features,
                "metrics": r.metrics,
                "checksum": r.checksum,
                "created_by": r.created_by,
                "created_at": r.created_at,
                "promoted_at": r.promoted_at,
            }
            for r in records
        ],
        indent=2,
    )


def list_models(settings: CommonSettings, kind: ModelKind | None) -> list[ModelRecord]:
    """The site's models (of one kind)."""
    with connect(_conninfo(settings), "models-cli") as conn:
        ensure_schema(conn)
        return registry.list_models(conn, settings.site, kind)


def promote(settings: CommonSettings, kind: ModelKind, version: int, actor: str) -> ModelRecord:
    """Promote a version by hand (no margin: the operator decides) and announce it to the replicas."""
    with connect(_conninfo(settings), "models-cli") as conn:
        ensure_schema(conn)
        out = registry.promote(conn, settings.site, kind, version, actor, "promoted by hand")
    _announce(settings, kind, out.version)
    return out


def rollback(settings: CommonSettings, kind: ModelKind, actor: str) -> ModelRecord:
    """Return to the version that served before the current one, and announce it."""
    with connect(_conninfo(settings), "models-cli") as conn:
        ensure_schema(conn)
        out = registry.rollback(conn, settings.site, kind, actor)
    _announce(settings, kind, out.version)
    return out


def _announce(settings: CommonSettings, kind: ModelKind, version: int) -> None:
    client = redisclient.connect(settings)
    try:
        registry.announce(client, settings.site, kind, version)
    except (redis.RedisError, OSError):
        pass  # the replicas' periodic registry check picks the change up
    finally:
        client.close()
