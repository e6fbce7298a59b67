"""Debian's redis-server without persistence, on loopback."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from gridwatch.local.server import Server, ServerError


class Redis(Server):
    """Debian's redis-server, no persistence; stop()/start() reuse the same port."""

    name = "redis"
    start_timeout = 15.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        binary: str | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.binary = (
            binary
            or os.environ.get("GRIDWATCH_REDIS_SERVER")
            or shutil.which("redis-server")
            or "/usr/bin/redis-server"
        )

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def _prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ServerError(f"{self.binary} not found: apt-get install redis-server")

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--loglevel", "notice",
        ]  # fmt: skip

    def _is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_REDIS_URL": self.url}
