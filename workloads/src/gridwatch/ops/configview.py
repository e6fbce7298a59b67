"""`gridwatch config show|validate`: the settings a workload would run with, and readable errors when they are wrong."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings

from gridwatch.ops.redact import MASK, redact

# workload (the `gridwatch <command>` name) -> its settings object
WORKLOADS: dict[str, str] = {
    "simulator": "gridwatch.simulator.settings:SimulatorSettings",
    "processor": "gridwatch.processor.settings:ProcessorSettings",
    "history": "gridwatch.history.settings:HistorySettings",
    "alerts": "gridwatch.alerting.settings:AlertSettings",
    "ingest": "gridwatch.ingest.settings:IngestSettings",
    "grid": "gridwatch.grid.settings:GridSettings",
    "api": "gridwatch.api.settings:ApiSettings",
    "storage": "gridwatch.storage.settings:StorageSettings",
    "rebalancer": "gridwatch.rebalancer.settings:RebalancerSettings",
    "forecaster": "gridwatch.forecasting.settings:ForecasterSettings",
    "trainer": "gridwatch.training.settings:TrainerSettings",
    "replay": "gridwatch.replay.settings:ReplaySettings",
}


class UnknownWorkload(ValueError):
    """The name is not one of WORKLOADS."""


@dataclass(frozen=True)
class Setting:
    """One effective setting: its variable, value (secrets masked) and where the value came from."""

    env: str
    value: Any
    source: str  # "env" (set in the environment or env file) or "default"
    description: str


@dataclass(frozen=True)
class Problem:
    """One invalid setting, named by its environment variable."""

    env: str
    message: str
    value: str


def settings_class(workload: str) -> type[BaseSettings]:
    """The settings class of `workload`."""
    try:
        module, name = WORKLOADS[workload].split(":")
    except KeyError:
        raise UnknownWorkload(f"unknown workload {workload!r}; one of: {', '.join(WORKLOADS)}") from None
    cls: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return cls


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` (an alias is the full name; otherwise prefix + field)."""
    info = cls.model_fields[field]
    if isinstance(info.alias, str) and info.alias.isupper():
        return info.alias
    return (str(cls.model_config.get("env_prefix", "")) + field).upper()


def _public(value: Any) -> Any:
    """A printable value: secrets masked, credentials in URLs redacted, nested models as plain data."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [_public(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Path):
        return str(value)
    return value


def load(workload: str, env_file: Path | None = None) -> BaseSettings:
    """Build the workload's settings from the environment (and `env_file`); raises ValidationError."""
    cls = settings_class(workload)
    if env_file is None:
        return cls()
    return cls(_env_file=env_file)


def show(workload: str, env_file: Path | None = None) -> list[Setting]:
    """Every setting of the workload with its effective value and source."""
    settings = load(workload, env_file)
    cls = type(settings)
    return [
        Setting(
            env_name(cls, name),
            _public(getattr(settings, name)),
            "env" if name in settings.model_fields_set else "default",
            info.description or "",
        )
        for name, info in cls.model_fields.items()
    ]


def validate(workload: str, env_file: Path | None = None) -> list[Problem]:
    """What is wrong with the workload's configuration; empty when it would start."""
    cls = settings_class(workload)
    try:
        load(workload, env_file)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [str(part) for part in err["loc"]]
            field = loc[0] if loc else ""
            if field in cls.model_fields:
                env = env_name(cls, field) + ("".join(f"[{p}]" for p in loc[1:]))
            elif field:
                env = next((env_name(cls, n) for n, i in cls.model_fields.items() if i.alias == field), field)
            else:
                env = "(settings)"
            value = err.get("input")
            secret = field in cls.model_fields and cls.model_fields[field].annotation is SecretStr
            shown = "" if value is None or isinstance(value, dict) else MASK if secret else str(_public(value))
            problems.append(Problem(env, err["msg"], shown[:200]))
        return problems
    return []
