"""Debian's Mosquitto MQTT broker as a local server, with persistence so a restart keeps QoS 1 sessions."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from gridwatch.local.server import Server, ServerError


class Mosquitto(Server):
    """`mosquitto -c <workdir>/mosquitto.conf` on 127.0.0.1; stop()/start() reuse the port and the saved sessions."""

    name = "mosquitto"
    start_timeout = 15.0

    def __init__(
        self, workdir: str | os.PathLike[str], port: int | None = None, *, password_file: Path | None = None
    ) -> None:
        super().__init__(workdir, port)
        self.binary = os.environ.get("GRIDWATCH_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.password_file = password_file

    @property
    def config_path(self) -> Path:
        """The generated configuration."""
        return self.workdir / "mosquitto.conf"

    def _prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ServerError(f"{self.binary} not found: apt-get install mosquitto")
        auth = (
            f"allow_anonymous false\npassword_file {self.password_file}\n"
            if self.password_file
            else "allow_anonymous true\n"
        )
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n{auth}"
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            f"persistence true\npersistence_location {self.workdir}/\nautosave_interval 1\n"
            # the ingest bridge acknowledges only after Kafka has the readings: a wide window keeps it busy
            "max_inflight_messages 1000\nmax_queued_messages 1000000\n"
            f"log_dest file {self.log_path}\nlog_type error\nlog_type warning\nlog_type notice\n"
        )
        self.stdout_path = self.workdir / "mosquitto.out"

    def _command(self) -> list[str]:
        return [self.binary, "-c", str(self.config_path)]

    def env(self) -> dict[str, str]:
        """Settings that point the ingest bridge at this broker."""
        return {"GRIDWATCH_INGEST_MQTT_HOST": "127.0.0.1", "GRIDWATCH_INGEST_MQTT_PORT": str(self.port)}
