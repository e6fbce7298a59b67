"""`gridwatch export`: download a CSV export from a running API to a file or stdout, as it streams."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import httpx

TIMEOUT = httpx.Timeout(30.0, read=300.0)  # a slow query may take a while before its first batch


class ExportKind(StrEnum):
    """What to export (the API's /api/v1/export/<kind>.csv)."""

    HISTORY = "history"
    ALERTS = "alerts"
    SUGGESTIONS = "suggestions"


class ExportFailed(Exception):
    """The API refused the export (its problem's detail) or the stream broke off."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    return str(body.get("detail") or body.get("title") or body) if isinstance(body, dict) else str(body)


def _copy(url: str, params: Mapping[str, str], token: str | None, out: BinaryIO) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    written = 0
    try:
        with httpx.stream("GET", url, params=dict(params), headers=headers, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                response.read()
                raise ExportFailed(f"HTTP {response.status_code}: {_detail(response)}")
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
    except httpx.HTTPError as exc:
        raise ExportFailed(f"{url}: {exc}") from exc
    return written


def export(
    base_url: str,
    kind: ExportKind,
    params: Mapping[str, str | None],
    output: Path | None,
    stdout: BinaryIO,
    token: str | None = None,
) -> int:
    """Stream the export into `output` (written beside it, renamed when complete) or `stdout`; bytes written."""
    url = f"{base_url.rstrip('/')}/api/v1/export/{kind.value}.csv"
    query = {k: v for k, v in params.items() if v is not None}
    if output is None:
        return _copy(url, query, token, stdout)
    fd, partial = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as out:
            written = _copy(url, query, token, out)
        os.replace(partial, output)  # a broken-off export never looks like a complete file
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return written
