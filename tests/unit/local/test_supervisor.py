"""The local runtime's supervisor: restart policy and backoff, on a fake clock and fake processes."""

from __future__ import annotations

from dataclasses import dataclass

from gridwatch.local.supervisor import Supervisor


@dataclass
class FakeProcess:
    name: str
    pid: int | None
    code: int | None = None
    stopped: bool = False
    log: list[str] | None = None

    def exit_code(self) -> int | None:
        return self.code

    def stop(self) -> int:
        self.stopped = True
        if self.log is not None:
            self.log.append(self.name)
        return 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[Supervisor, Clock, list[FakeProcess], list[str]]:
    clock = Clock()
    launched: list[FakeProcess] = []
    said: list[str] = []

    def launch(name: str) -> FakeProcess:
        p = FakeProcess(name, pid=len(launched) + 100)
        launched.append(p)
        return p

    return Supervisor(launch, said.append, clock=clock), clock, launched, said


def test_a_crashed_workload_is_restarted_after_the_backoff_and_the_others_keep_running() -> None:
    sup, clock, launched, said = make()
    sup.start(["processor", "api"])
    processor, api = launched
    processor.code = -9
    clock.now += 5
    sup.poll()
    assert sup.status()["processor"] == {"state": "restarting", "pid": None, "restarts": 0, "last_exit": -9}
    assert any("processor exited with -9" in s for s in said)
    clock.now += 0.5
    sup.poll()
    assert len(launched) == 2  # still inside the 1 s backoff
    clock.now += 0.6
    sup.poll()
    assert len(launched) == 3 and launched[2].name == "processor"
    assert sup.status()["processor"] == {"state": "running", "pid": 102, "restarts": 1, "last_exit": -9}
    assert sup.status()["api"]["state"] == "running" and not api.stopped


def test_the_backoff_doubles_while_crashing_fast_caps_and_resets_once_stable() -> None:
    sup, clock, launched, _ = make()
    sup.start(["history"])
    waits = []
    for _ in range(7):  # crash right after every start
        launched[-1].code = 1
        sup.poll()
        child = sup.children["history"]
        assert child.restart_at is not None
        waits.append(child.restart_at - clock.now)
        clock.now = child.restart_at
        sup.poll()
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    clock.now += 61  # runs for longer than stable_after_s
    sup.poll()
    launched[-1].code = 1
    sup.poll()
    child = sup.children["history"]
    assert child.restart_at is not None and child.restart_at - clock.now == 1


def test_stop_stops_every_running_workload_in_reverse_order() -> None:
    stopped: list[str] = []
    sup, _, launched, _ = make()
    sup.start(["processor", "history", "api"])
    for p in launched:
        p.log = stopped
    sup.stop()
    assert stopped == ["api", "history", "processor"]
