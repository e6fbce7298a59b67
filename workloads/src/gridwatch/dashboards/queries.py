"""Every PromQL query of a rendered dashboard, with Grafana's variables replaced so Prometheus can run it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Grafana's built-in interval variables and stand-ins a test Prometheus (1s scrapes) can answer.
DEFAULT_BUILTINS = {"__rate_interval": "30s", "__interval": "5s", "__range": "5m"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[PanelQuery]:
    """Every Prometheus target of every panel, rows' nested panels included."""
    title = str(dashboard.get("title", ""))
    stack = list(dashboard.get("panels") or [])
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels") or [])
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield PanelQuery(title, str(panel.get("title", "")), str(target.get("refId", "")), target["expr"])


def variable_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, query) of every query variable, e.g. ('site', 'label_values(gridwatch_build_info, site)')."""
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") == "query":
            yield str(variable["name"]), str(variable.get("query", ""))


def expand(expr: str, values: Mapping[str, str], builtins: Mapping[str, str] = DEFAULT_BUILTINS) -> str:
    """Replace $name and ${name} with the given values; raise KeyError for a variable without one."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return values[name]
        return builtins[name]

    return _VARIABLE.sub(value, expr)
