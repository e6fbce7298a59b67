"""Per-gateway bearer tokens from a mounted file of SHA-256 hashes, re-read when the file changes."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
GATEWAY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def hash_token(token: str) -> str:
    """The stored form of a token: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token(gateway: str) -> tuple[str, str]:
    """A fresh random token and the line to put in the tokens file for it."""
    token = secrets.token_urlsafe(32)
    return token, f"{gateway} {hash_token(token)}"


def parse(text: str) -> dict[str, str]:
    """Map hash -> gateway from lines `<gateway> sha256:<hex>`; `#` starts a comment; bad lines raise ValueError."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if (
            len(parts) != 2
            or not re.match(GATEWAY_PATTERN, parts[0])
            or not re.fullmatch(r"sha256:[0-9a-f]{64}", parts[1])
        ):
            raise ValueError(f"line {number}: expected '<gateway> sha256:<64 hex digits>'")
        found[parts[1]] = parts[0]
    return found


class TokenStore:
    """Resolves a bearer token to its gateway; checks the file at most once per `check_interval_s`."""

    def __init__(self, path: Path | None, check_interval_s: float = 1.0) -> None:
        self.path = path
        self.check_interval_s = check_interval_s
        self._hashes: dict[str, str] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reloads = 0
        self.refresh(force=True)

    @property
    def gateways(self) -> set[str]:
        """Gateways that currently hold at least one token."""
        return set(self._hashes.values())

    def refresh(self, force: bool = False) -> None:
        """Re-read the file if it changed (a Kubernetes Secret update swaps a symlink, changing the stat)."""
        now = time.monotonic()
        if self.path is None or (not force and now - self._checked < self.check_interval_s):
            return
        with self._lock:
            self._checked = now
            try:
                st = os.stat(self.path)
            except OSError as exc:
                if self._stamp is not None or force:
                    log.warning("tokens file unreadable; keeping the tokens loaded before", error=str(exc))
                return
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            try:
                hashes = parse(self.path.read_text())
            except (OSError, ValueError) as exc:
                log.error("tokens file invalid; keeping the tokens loaded before", error=str(exc))
                return
            self._hashes, self._stamp = hashes, stamp
            self.reloads += 1
            log.info("tokens loaded", gateways=len(set(hashes.values())), tokens=len(hashes))

    def gateway(self, token: str) -> str | None:
        """The gateway a token belongs to, or None."""
        self.refresh()
        return self._hashes.get(hash_token(token))
