"""A stop flag flipped by SIGTERM/SIGINT so loops finish their batch and clean up."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopFlag:
    """Set by SIGTERM or SIGINT; loops poll `running` and sleep with `wait`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> StopFlag:
        """Install handlers for SIGTERM and SIGINT (main thread only)."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._event.set()

    def stop(self) -> None:
        """Ask the loop to stop."""
        self._event.set()

    @property
    def running(self) -> bool:
        """True until a stop was requested."""
        return not self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when a stop was requested meanwhile."""
        return self._event.wait(seconds)
