"""Every setting of every workload is documented in docs/configuration.md."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import gridwatch
from pydantic_settings import BaseSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def settings_classes() -> list[type[BaseSettings]]:
    found: list[type[BaseSettings]] = []
    for module in pkgutil.walk_packages(gridwatch.__path__, "gridwatch."):
        if not module.name.endswith(".settings"):
            continue
        mod = importlib.import_module(module.name)
        for value in vars(mod).values():
            if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == mod.__name__:
                found.append(value)
    return found


def test_every_environment_variable_is_documented() -> None:
    text = DOC.read_text()
    classes = settings_classes()
    assert len(classes) >= 4
    missing = []
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, field in cls.model_fields.items():
            env = field.alias or f"{prefix}{name}".upper()
            if f"`{env}`" not in text:
                missing.append(f"{cls.__name__}.{name} ({env})")
    assert not missing, f"undocumented settings: {missing}"
