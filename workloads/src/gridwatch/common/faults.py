"""Crash injection for fault tests: off unless GRIDWATCH_FAULT_CRASH_AT names a step of the consumer loop."""

from __future__ import annotations

import os
import signal
import sys

ENV = "GRIDWATCH_FAULT_CRASH_AT"
ENV_AFTER = "GRIDWATCH_FAULT_CRASH_AFTER"
# the step boundaries of `gridwatch.common.consumer.ConsumerLoop`, in batch order
STEPS = ("consumed", "handled", "delivered", "finished", "committed")

_target = os.environ.get(ENV, "")
_after = int(os.environ.get(ENV_AFTER, "1") or 1)
_reached = [0]


def crash_point(step: str) -> None:
    """SIGKILL this process the N-th time `step` is reached, when GRIDWATCH_FAULT_CRASH_AT=step (N from
    GRIDWATCH_FAULT_CRASH_AFTER, default 1). No-op otherwise: production never sets the variable."""
    if step != _target:
        return
    _reached[0] += 1
    if _reached[0] >= _after:
        sys.stderr.write(f'{{"event": "fault injection: crashing", "step": "{step}", "level": "error"}}\n')
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
