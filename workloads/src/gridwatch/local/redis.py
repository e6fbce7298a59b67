"""Debian's redis-server without persistence, on loopback; optionally with a password or an ACL user."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from gridwatch.local.server import Server, ServerError


def _resp(*parts: str) -> bytes:
    """One command in Redis's wire format (safe for any characters in a password)."""
    out = f"*{len(parts)}\r\n"
    for part in parts:
        out += f"${len(part.encode())}\r\n{part}\r\n"
    return out.encode()


class Redis(Server):
    """Debian's redis-server, no persistence; stop()/start() reuse the same port.

    With `password`, clients must authenticate: as the default user (requirepass), or, with `username`
    as well, as that ACL user (all keys, channels and commands) while the default user is switched off.
    The credentials go into a 0600 config file, never onto the command line.
    """

    name = "redis"
    start_timeout = 15.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        binary: str | None = None,
        password: str | None = None,
        username: str | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.binary = (
            binary
            or os.environ.get("GRIDWATCH_REDIS_SERVER")
            or shutil.which("redis-server")
            or "/usr/bin/redis-server"
        )
        self.password = password
        self.username = username
        self.auth_config = self.workdir / "auth.conf"

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0 (no credentials: those travel as GRIDWATCH_REDIS_USERNAME/_PASSWORD)"""
        return f"redis://127.0.0.1:{self.port}/0"

    def _prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ServerError(f"{self.binary} not found: apt-get install redis-server")
        if self.username and not self.password:
            raise ServerError("a Redis ACL user needs a password")
        lines: list[str] = []
        if self.password and self.username:
            lines = ["user default off", f"user {self.username} on >{self.password} ~* &* +@all"]
        elif self.password:
            lines = [f"requirepass {self.password}"]
        fd = os.open(self.auth_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{line}\n" for line in lines))

    def _command(self) -> list[str]:
        return [
            self.binary,
            str(self.auth_config),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--loglevel", "notice",
        ]  # fmt: skip

    def _is_ready(self) -> bool:
        hello = b""
        if self.password:
            hello = _resp("AUTH", *([self.username] if self.username else []), self.password)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(hello + _resp("PING"))
                reply = b""
                while reply.count(b"\r\n") < (2 if hello else 1):
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    reply += chunk
                return reply.endswith(b"+PONG\r\n")
        except OSError:
            return False

    def env(self) -> dict[str, str]:
        env = {"GRIDWATCH_REDIS_URL": self.url}
        if self.password:
            env["GRIDWATCH_REDIS_PASSWORD"] = self.password
        if self.username:
            env["GRIDWATCH_REDIS_USERNAME"] = self.username
        return env
