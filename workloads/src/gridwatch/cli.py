"""The one command line of every Gridwatch workload: `gridwatch simulator|processor|api|detect|...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
def ingest() -> None:
    """Accept device telemetry over HTTP and MQTT and produce it to the readings topic."""
    from gridwatch.ingest.runner import main
    from gridwatch.ingest.settings import IngestSettings

    main(IngestSettings())


@app.command("ingest-token")
def ingest_token(gateway: str) -> None:
    """Print a new bearer token for GATEWAY and the line for the tokens file (which stores only its hash)."""
    from gridwatch.ingest.tokens import new_token

    token, line = new_token(gateway)
    typer.echo(f"token: {token}\ntokens file line: {line}")


@app.command()
def api() -> None:
    """Serve the REST and WebSocket API."""
    from gridwatch.api.app import main
    from gridwatch.api.settings import ApiSettings

    main(ApiSettings())


@app.command()
def detect(
    csv: Annotated[Path, typer.Option(help="Input CSV with a header row (NAB format: timestamp,value).")],
    out: Annotated[
        Path, typer.Option(help="Output CSV: timestamp,value,anomaly_score,anomaly,failure_probability,kind.")
    ],
    timestamp_col: Annotated[
        str, typer.Option(help="Column with ISO-8601 (naive = UTC) or epoch-second timestamps.")
    ] = "timestamp",
    value_col: Annotated[str, typer.Option(help="Column with the numeric reading.")] = "value",
    sensor_type: Annotated[
        str, typer.Option(help="Sensor type the readings come from (power, temperature, ...).")
    ] = "power",
) -> None:
    """Score a CSV offline with the processor's detector and default settings, one reading at a time."""
    from gridwatch.processor.detect import CsvError, detect_file

    try:
        rows = detect_file(csv, out, timestamp_col, value_col, sensor_type)
    except (CsvError, OSError) as exc:
        typer.echo(f"gridwatch detect: {csv}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"scored {rows} readings into {out}", err=True)


if __name__ == "__main__":
    app()
