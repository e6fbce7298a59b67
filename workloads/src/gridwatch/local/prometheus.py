"""Debian's Prometheus with a generated config (scrape targets, rule files) and its lifecycle API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from gridwatch.local.server import Server, ServerError


class Prometheus(Server):
    """Debian's prometheus with a generated config (1s scrape/eval interval) and lifecycle API."""

    name = "prometheus"
    start_timeout = 30.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[str | os.PathLike[str]] = (),
        scrape_interval: str = "1s",
        binary: str | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.binary = binary or shutil.which("prometheus") or "/usr/bin/prometheus"
        self.promtool: str = shutil.which("promtool") or "/usr/bin/promtool"
        self.targets: dict[str, list[str]] = {k: list(v) for k, v in (targets or {}).items()}
        self.rule_files: list[Path] = [Path(p).resolve() for p in rule_files]
        self.scrape_interval = scrape_interval
        self.config_path = self.workdir / "prometheus.yml"
        self.storage_dir = self.workdir / "data"

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    def render_config(self) -> str:
        """The prometheus.yml text for the current targets and rule files (JSON is valid YAML)."""
        cfg: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
            },
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(tg)}]} for job, tg in self.targets.items()
            ],
        }
        return json.dumps(cfg, indent=2) + "\n"

    def write_config(self) -> Path:
        """Write prometheus.yml into the working dir and return its path."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config())
        return self.config_path

    def start(
        self,
        targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> Self:
        """Start scraping `targets` ({job: ["host:port", ...]}) and evaluating `rule_files`."""
        if targets is not None:
            self.targets = {k: list(v) for k, v in targets.items()}
        if rule_files is not None:
            self.rule_files = [Path(p).resolve() for p in rule_files]
        return super().start()

    def _prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ServerError(f"{self.binary} not found: apt-get install prometheus")
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    def _command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--storage.tsdb.path={self.storage_dir}",
            "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            "--log.level=warn",
        ]

    def _get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as e:
            return int(e.code), bytes(e.read())

    def _is_ready(self) -> bool:
        try:
            return self._get("/-/ready")[0] == 200
        except OSError:
            return False

    def set_targets(
        self,
        targets: Mapping[str, Sequence[str]],
        rule_files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> None:
        """Replace scrape targets (and optionally rule files) and reload a running server."""
        self.targets = {k: list(v) for k, v in targets.items()}
        if rule_files is not None:
            self.rule_files = [Path(p).resolve() for p in rule_files]
        self.write_config()
        if self.running:
            self.reload()

    def reload(self) -> None:
        """Ask the running server to re-read its config and rule files."""
        req = urllib.request.Request(self.url + "/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise ServerError(f"prometheus reload failed: HTTP {r.status}")

    def wait_for_targets(self, timeout: float = 20.0, *, healthy: bool = False) -> None:
        """Block until every configured target has been scraped once (and is up, if `healthy`).

        Prometheus applies new target lists through its discovery manager, which batches
        updates every 5s, so the first scrape lands roughly 5-6s after start or reload.
        """
        wanted = {(job, t) for job, tg in self.targets.items() for t in tg}
        deadline = time.monotonic() + timeout
        ok: set[tuple[str, str]] = set()
        while True:
            status, body = self._get("/api/v1/targets?state=active", timeout=5)
            if status == 200:
                seen: dict[tuple[str, str], str] = {}
                for t in json.loads(body)["data"]["activeTargets"]:
                    if not str(t.get("lastScrape", "")).startswith("0001-"):
                        seen[(t["scrapePool"], t["discoveredLabels"]["__address__"])] = t["health"]
                ok = {w for w in wanted if w in seen and (not healthy or seen[w] == "up")}
                if ok == wanted:
                    return
            if time.monotonic() > deadline:
                missing = sorted(wanted - ok)
                raise ServerError(f"prometheus targets not scraped within {timeout:.0f}s: {missing}")
            time.sleep(0.25)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant PromQL query and return data.result."""
        status, body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=10)
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise ServerError(f"prometheus query {expr!r} failed: {body.decode(errors='replace')}")
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def check_rules(self, *rule_files: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        """Run `promtool check rules` on the given files (default: the configured ones)."""
        files = [str(p) for p in (rule_files or self.rule_files)]
        return subprocess.run([self.promtool, "check", "rules", *files], capture_output=True, text=True, check=False)

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_PROMETHEUS_URL": self.url}
