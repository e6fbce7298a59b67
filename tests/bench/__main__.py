"""Command line: `python -m tests.bench run --full|--smoke --out docs/benchmarks.md [--json docs/benchmarks.json]`."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from tests.bench import report, suite
from tests.bench.stack import BenchStack


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start Kafka, Redis and PostgreSQL, run the suite, write the report."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the benchmarks and write the report")
    size = run.add_mutually_exclusive_group(required=True)
    size.add_argument("--full", action="store_true", help="1k/10k/100k sensors, 500 WebSocket clients (minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, to check the harness works")
    run.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"), help="markdown report")
    run.add_argument("--json", type=Path, default=None, help="raw results (default: --out with .json)")
    run.add_argument("--workdir", type=Path, default=None, help="logs and server data (default: a temp dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    sizes = suite.FULL if args.full else suite.SMOKE
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gridwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    json_path = args.json or args.out.with_suffix(".json")
    with BenchStack(workdir) as stack:
        results = suite.run(sizes, stack, workdir)
    report.write(results, args.out, json_path)
    print(f"wrote {args.out} and {json_path}; logs in {workdir}")
    for error in results.errors:
        print(f"phase failed: {error.splitlines()[0]}", file=sys.stderr)
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
