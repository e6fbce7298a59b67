"""The CLI's docstring names every command it has, so `gridwatch --help` readers and code readers agree."""

from __future__ import annotations

from typing import Any

import gridwatch.cli
import typer


def test_the_module_docstring_lists_every_command() -> None:
    root: Any = typer.main.get_command(gridwatch.cli.app)
    doc = gridwatch.cli.__doc__ or ""
    missing: list[str] = []
    assert len(root.commands) >= 10
    for name, command in root.commands.items():
        if hasattr(command, "commands"):  # a sub-app such as `gridwatch local`
            missing += [f"{name} {sub}" for sub in command.commands if sub not in doc or name not in doc]
        elif name not in doc:
            missing.append(name)
    assert not missing, f"commands missing from gridwatch/cli.py's docstring: {missing}"
