"""Render the dashboards to sorted-key JSON: `python -m gridwatch.dashboards.render --out DIR [--check]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from gridwatch.dashboards.boards import BOARDS

DEFAULT_OUT = Path("charts/energy-site/dashboards")


def render(name: str) -> str:
    """The JSON text of one dashboard: sorted keys, two-space indent, panels numbered from 1."""
    board = BOARDS[name]().build()
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number
    return JSONEncoder(sort_keys=True, indent=2).encode(board) + "\n"


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{name}.json": render(name) for name in BOARDS}


def stale(out: Path) -> list[str]:
    """File names under `out` that are missing or differ from what the code renders, plus extra JSON files."""
    rendered = render_all()
    differ = [n for n, text in rendered.items() if not (out / n).is_file() or (out / n).read_text() != text]
    extra = [p.name for p in out.glob("*.json") if p.name not in rendered] if out.is_dir() else []
    return sorted(differ + extra)


def write(out: Path) -> list[Path]:
    """Write every dashboard into `out` (and remove JSON files no dashboard renders); returns the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_all()
    for old in out.glob("*.json"):
        if old.name not in rendered:
            old.unlink()
    paths = []
    for name, text in rendered.items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: write the dashboards, or with --check report whether the committed ones are current."""
    parser = argparse.ArgumentParser(prog="python -m gridwatch.dashboards.render", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files in --out are not current")
    args = parser.parse_args(argv)
    if args.check:
        differ = stale(args.out)
        for name in differ:
            sys.stderr.write(f"{args.out / name} is not what the code renders; run `make dashboards`\n")
        return 1 if differ else 0
    for path in write(args.out):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
