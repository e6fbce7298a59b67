"""A short run of the fault suite (`make chaos`): a processor SIGKILL and a Redis stall on the real components."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.suite import run, table


def test_chaos_smoke_loses_nothing_and_recovers(tmp_path: Path) -> None:
    outcomes = run(["kill-processor", "stop-redis"], tmp_path, seed=3)
    assert [o.fault for o in outcomes] == ["kill-processor", "stop-redis"]
    assert all(o.ok for o in outcomes), table(outcomes)
    assert outcomes[0].restarts >= 1  # the killed processor came back through the supervisor
    assert all(o.produced > 0 for o in outcomes)
