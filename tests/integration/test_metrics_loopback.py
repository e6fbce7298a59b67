"""`make up` keeps every workload's /metrics and probes on loopback; in a cluster (the default) they listen on all
addresses so Prometheus can scrape them. Checked on the real listening sockets (/proc/net/tcp{,6})."""

from __future__ import annotations

from pathlib import Path

import httpx
from gridwatch.common.settings import CommonSettings
from gridwatch.local.runtime import Options, Runtime
from gridwatch.local.workloads import WORKLOADS

from tests.utils.workloads import Workload, free_port, wait_for

LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel prints them) of the sockets listening on `port`."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == LISTEN:
                found.add(address)
    return found


LOOPBACK = "0100007F"  # 127.0.0.1, little-endian
ANY = {"00000000", "00000000000000000000000000000000"}  # 0.0.0.0 and ::


def test_make_up_sets_loopback_for_every_workload_and_the_cluster_default_is_any(tmp_path: Path) -> None:
    runtime = Runtime(Options(dir=tmp_path / ".gridwatch", ui_dir=tmp_path / "no-ui"))
    for spec in WORKLOADS:
        assert runtime.env(spec.name)["GRIDWATCH_METRICS_HOST"] == "127.0.0.1", spec.name
    assert CommonSettings().metrics_host == "0.0.0.0"


def test_the_metrics_server_binds_where_it_is_told(base_env: dict[str, str], tmp_path: Path) -> None:
    local_host = Runtime(Options(dir=tmp_path / ".gridwatch", ui_dir=tmp_path / "no-ui")).env("processor")[
        "GRIDWATCH_METRICS_HOST"
    ]
    seen: dict[str, set[str]] = {}
    for label, extra in (("local", {"GRIDWATCH_METRICS_HOST": local_host}), ("cluster", {})):
        port = free_port()
        env = {k: v for k, v in base_env.items() if k != "GRIDWATCH_METRICS_HOST"}
        proc = Workload("processor", {**env, **extra, "GRIDWATCH_METRICS_PORT": str(port)}, tmp_path)
        if not extra:
            proc.env.pop("GRIDWATCH_METRICS_HOST", None)  # the cluster default, even if this shell sets one
        proc.start()
        try:
            wait_for(
                lambda port=port: httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200,  # type: ignore[misc]
                90,
                f"{label} processor /metrics",
                logs=(proc,),
            )
            seen[label] = listening_addresses(port)
        finally:
            proc.stop()
    assert seen["local"] == {LOOPBACK}
    assert seen["cluster"] & ANY and LOOPBACK not in seen["cluster"]
