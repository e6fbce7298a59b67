"""`gridwatch-operator` / `python -m gridwatch_operator`: run kopf standalone with a liveness endpoint."""

from __future__ import annotations

import logging
import re

_ROUTINE = re.compile(r"^Timer '[^']+' succeeded\.$")


class _QuietTimers(logging.Filter):
    """Drop kopf's "Timer 'x' succeeded." lines: timers run every few seconds per site."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _ROUTINE.match(record.getMessage())


def main() -> None:
    """Run the operator until SIGTERM (kopf handles the signal and drains handlers)."""
    import kopf

    from gridwatch_operator import handlers

    settings = handlers.SETTINGS
    kopf.configure(log_format=kopf.LogFormat.JSON, verbose=settings.log_level == "DEBUG")
    logging.getLogger().setLevel(settings.log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietTimers())
    liveness = f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness,
    )


if __name__ == "__main__":
    main()
