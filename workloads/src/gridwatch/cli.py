"""The one command line of every Gridwatch workload: `gridwatch simulator|processor|api`."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Gridwatch workloads. Configure each with GRIDWATCH_* environment variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def simulator() -> None:
    """Simulate industrial sensors and publish gateway batches to Kafka."""
    from gridwatch.simulator.runner import main
    from gridwatch.simulator.settings import SimulatorSettings

    main(SimulatorSettings())


@app.command()
def processor() -> None:
    """Score readings from Kafka and keep the live state in Redis."""
    from gridwatch.processor.runner import main
    from gridwatch.processor.settings import ProcessorSettings

    main(ProcessorSettings())


@app.command()
def history() -> None:
    """Write one-minute rollups of enriched readings to PostgreSQL."""
    from gridwatch.history.runner import main
    from gridwatch.history.settings import HistorySettings

    main(HistorySettings())


@app.command()
def alerts() -> None:
    """Evaluate alert rules, keep the alert lifecycle in PostgreSQL and deliver notifications."""
    from gridwatch.alerting.runner import main
    from gridwatch.alerting.settings import AlertSettings

    main(AlertSettings())


@app.command()
def api() -> None:
    """Serve the REST and WebSocket API."""
    from gridwatch.api.app import main
    from gridwatch.api.settings import ApiSettings

    main(ApiSettings())


if __name__ == "__main__":
    app()
