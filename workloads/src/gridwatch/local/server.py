"""One local server process (the base of kafka, redis, postgres, prometheus, mosquitto), started by mirakuru.

mirakuru spawns the server in its own session, waits until our readiness check passes (or the process exits, or
the start timeout passes) and stops it with the server's own shutdown signal, then SIGKILL to what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from mirakuru import Executor, SimpleExecutor
from mirakuru.exceptions import ExecutorError, ProcessExitedWithError, TimeoutExpired

from gridwatch.local.process import free_port, pdeathsig_hook, port_open, tail


class ServerError(RuntimeError):
    """A local server could not be fetched, started or reached."""


class _ServerExecutor(Executor):
    """mirakuru's executor for one of our servers: ready when the server's own check passes."""

    def __init__(self, server: Server, command: list[str], **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.server = server

    def pre_start_check(self) -> bool:
        return False  # ports are our own (free_port, or the fixed ones of `gridwatch local up`)

    def after_start_check(self) -> bool:
        return self.server._is_ready()

    @property
    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs = super()._popen_kwargs
        kwargs["universal_newlines"] = False
        hook = pdeathsig_hook()
        if hook is not None:  # mirakuru's own preexec_fn is os.setsid; keep it and add the parent-death signal

            def preexec() -> None:
                os.setsid()
                hook()

            kwargs["preexec_fn"] = preexec
        return kwargs


class Server:
    """One local server process with its own working dir, port and log file."""

    name: ClassVar[str] = "server"
    start_timeout: ClassVar[float] = 30.0  # mirakuru's timeout: for the start and, again, for a clean stop
    term_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.port: int = port if port is not None else free_port()
        self.log_path: Path = self.workdir / f"{self.name}.log"
        self.stdout_path: Path = self.log_path  # where the child's stdout/stderr go
        self.last_start_seconds: float | None = None
        self._executor: _ServerExecutor | None = None
        self._t0 = 0.0

    # -- hooks for subclasses
    def _prepare(self) -> None:
        """Create config and data before the first launch (idempotent)."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _popen_kwargs(self) -> dict[str, Any]:
        """Extra subprocess.Popen arguments (e.g. cwd, user)."""
        return {}

    def _is_ready(self) -> bool:
        return port_open(self.port)

    def _after_ready(self) -> None:
        """Run once the server answers (e.g. create a database)."""

    # -- public API
    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The server's process while it was launched and not stopped."""
        return None if self._executor is None else self._executor.process

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._executor is not None and self._executor.running()

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        proc = self.proc
        return proc.pid if proc is not None and self.running else None

    def launch(self) -> None:
        """Prepare and spawn the process without waiting for it to answer."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.monotonic()
        self._prepare()
        extra = self._popen_kwargs()
        cwd = str(extra.pop("cwd", self.workdir))
        log = open(self.stdout_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self._executor = _ServerExecutor(
                self,
                self._command(),
                cwd=cwd,
                timeout=self.start_timeout,
                stop_signal=self.term_signal,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                popen_kwargs=extra,
            )
            SimpleExecutor.start(self._executor)  # spawn only: wait_ready() waits, so several start at once
        finally:
            log.close()

    def _log_tail(self) -> str:
        out = f"last log lines ({self.log_path}):\n{tail(self.log_path)}"
        if self.stdout_path != self.log_path:
            out += f"\nlast output lines ({self.stdout_path}):\n{tail(self.stdout_path, 10)}"
        return out

    def wait_ready(self) -> None:
        """Block until the server answers; raise ServerError (and stop it) on failure."""
        executor = self._executor
        if executor is None:
            raise ServerError(f"{self.name} was not launched")
        try:
            # Look once before mirakuru's loop: its deadline runs from launch(), so a server launched beside a slower
            # one (Kafka) may be past it when its turn to be awaited comes, and the loop would not look at all.
            if not executor.check_subprocess():
                executor.wait_for(executor.check_subprocess)
        except ProcessExitedWithError as exc:
            self._executor = None
            raise ServerError(f"{self.name} exited with code {exc.exit_code} during start; {self._log_tail()}") from exc
        except TimeoutExpired as exc:  # mirakuru has killed it
            self._executor = None
            raise ServerError(
                f"{self.name} did not become ready within {self.start_timeout:.0f}s; {self._log_tail()}"
            ) from exc
        self._after_ready()
        self.last_start_seconds = time.monotonic() - self._t0

    def start(self) -> Self:
        """Launch the server and wait until it answers. Safe to call again after stop()."""
        if self.running:
            return self
        self.launch()
        self.wait_ready()
        return self

    def stop(self) -> None:
        """Stop the server: its shutdown signal to its process group, SIGKILL after the timeout."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        with contextlib.suppress(ExecutorError, ProcessLookupError):  # an unexpected exit code is still a stop
            executor.stop()
        with contextlib.suppress(ProcessLookupError, PermissionError, ExecutorError):
            executor.kill()  # whatever is left (e.g. postgres backends), reaped

    def env(self) -> dict[str, str]:
        """GRIDWATCH_* environment variables describing this server."""
        return {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} port={self.port} {state} dir={self.workdir}>"
