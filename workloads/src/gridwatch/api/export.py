"""Write the API's OpenAPI document from the app object, without a server: `python -m gridwatch.api.export OUT`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gridwatch.api.app import create_app
from gridwatch.api.settings import ApiSettings


def document() -> dict[str, Any]:
    """The OpenAPI document the API serves at /openapi.json."""
    return create_app(ApiSettings()).openapi()


def render() -> str:
    """The document as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the document to the path given (the frontend generates its types from it)."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m gridwatch.api.export OUT.json\n")
        return 2
    Path(argv[0]).write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
