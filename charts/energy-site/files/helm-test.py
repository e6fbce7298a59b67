"""`helm test`: the site's API answers through its Service: ready, this site's health, the web UI at /, and a read.

Run by templates/tests/api-test.yaml in the workloads image (Python's standard library only); configured by
HELM_TEST_URL (the API Service), HELM_TEST_SITE (the site identity /api/v1/health must report),
HELM_TEST_AUTH (true: reads must be refused without a token), HELM_TEST_ATTEMPTS and
HELM_TEST_TIMEOUT_SECONDS. Exits 1 when a check still fails after its attempts, printing why.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

BASE = os.environ["HELM_TEST_URL"].rstrip("/")
SITE = os.environ["HELM_TEST_SITE"]
AUTH = os.environ.get("HELM_TEST_AUTH", "false") == "true"
ATTEMPTS = int(os.environ.get("HELM_TEST_ATTEMPTS", "10"))
TIMEOUT = float(os.environ.get("HELM_TEST_TIMEOUT_SECONDS", "10"))

Answer = tuple[int, str, bytes]


def get(path: str) -> Answer:
    """Status, content type and body of GET path (an HTTP error status is an answer too)."""
    try:
        with urllib.request.urlopen(BASE + path, timeout=TIMEOUT) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def ready(status: int, _: str, body: bytes) -> str | None:
    return None if status == 200 and json.loads(body).get("status") == "ready" else f"{status} {body[:200]!r}"


def healthy(status: int, _: str, body: bytes) -> str | None:
    if status != 200:
        return f"{status} {body[:200]!r}"
    health = json.loads(body)
    if health.get("site") != SITE:
        return f"answered for site {health.get('site')!r}, not {SITE!r}: the Service reaches another site's API"
    return None if health.get("status") == "ok" else f"status {health.get('status')!r}, redis {health.get('redis')!r}"


def ui(status: int, content_type: str, body: bytes) -> str | None:
    if status == 200 and content_type.startswith("text/html") and b"<html" in body.lower():
        return None
    return f"{status} {content_type}: no web UI at / (is the image built with it, GRIDWATCH_API_STATIC_DIR?)"


def read(status: int, _: str, body: bytes) -> str | None:
    if AUTH:
        return None if status == 401 else f"{status} without a token: reads should need one (api.auth.issuer)"
    return None if status == 200 and isinstance(json.loads(body), dict) else f"{status} {body[:200]!r}"


CHECKS: list[tuple[str, str, Callable[[int, str, bytes], str | None]]] = [
    ("ready", "/readyz", ready),
    ("health", "/api/v1/health", healthy),
    ("web UI", "/", ui),
    ("read", "/api/v1/dashboard/stats", read),
]


def check(name: str, path: str, judge: Callable[[int, str, bytes], str | None]) -> bool:
    problem = "not tried"
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(2)
        try:
            problem = judge(*get(path)) or ""
        except (OSError, ValueError) as error:  # refused, timed out, not JSON
            problem = f"{type(error).__name__}: {error}"
        if not problem:
            print(f"ok    {name:7} GET {BASE}{path}", flush=True)
            return True
    print(f"FAIL  {name:7} GET {BASE}{path}: {problem}", flush=True)
    return False


if __name__ == "__main__":
    results = [check(*c) for c in CHECKS]
    sys.exit(0 if all(results) else 1)
