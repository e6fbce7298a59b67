"""Servers launched together are awaited one after another: a later one is not failed by the wait on an earlier."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from gridwatch.local.server import Server, ServerError


class Sleeper(Server):
    """A process that is 'ready' as soon as its flag says so (no port, no real server)."""

    name = "sleeper"
    start_timeout = 5.0
    answering = True

    def _command(self) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    def _is_ready(self) -> bool:
        return self.answering


def _past_deadline(server: Server) -> None:
    """As if another server's wait had used up this one's start timeout (mirakuru's deadline runs from launch)."""
    assert server._executor is not None
    server._executor._endtime = time.time() - 1


def test_a_server_ready_while_another_was_awaited_is_ready(tmp_path: Path) -> None:
    server = Sleeper(tmp_path)
    server.launch()
    try:
        _past_deadline(server)
        server.wait_ready()
        assert server.running and server.last_start_seconds is not None
    finally:
        server.stop()


def test_a_server_not_answering_by_its_deadline_still_fails(tmp_path: Path) -> None:
    server = Sleeper(tmp_path)
    server.answering = False
    server.launch()
    try:
        _past_deadline(server)
        with pytest.raises(ServerError, match="did not become ready within"):
            server.wait_ready()
        assert not server.running
    finally:
        server.stop()
