"""`gridwatch local up|down|status`: run the whole platform on this machine (what `make up` calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Run Gridwatch locally: servers and every workload as local processes.", no_args_is_help=True)

Dir = Annotated[Path, typer.Option("--dir", envvar="GRIDWATCH_LOCAL_DIR", help="State and logs.")]


@app.command()
def up(
    dir: Dir = Path(".gridwatch"),
    site: Annotated[str, typer.Option(envvar="GRIDWATCH_SITE")] = "local",
    sensors: Annotated[int, typer.Option(envvar="GRIDWATCH_SIM_SENSORS", min=1)] = 300,
    api_port: Annotated[int, typer.Option(envvar="GRIDWATCH_LOCAL_API_PORT", min=1, max=65535)] = 8000,
    kafka_port: Annotated[int, typer.Option(envvar="GRIDWATCH_LOCAL_KAFKA_PORT", min=1, max=65535)] = 19092,
    redis_port: Annotated[int, typer.Option(envvar="GRIDWATCH_LOCAL_REDIS_PORT", min=1, max=65535)] = 16379,
    postgres_port: Annotated[int, typer.Option(envvar="GRIDWATCH_LOCAL_POSTGRES_PORT", min=1, max=65535)] = 15432,
    prometheus_port: Annotated[int, typer.Option(envvar="GRIDWATCH_LOCAL_PROMETHEUS_PORT", min=1, max=65535)] = 19090,
    metrics_base: Annotated[
        int, typer.Option(envvar="GRIDWATCH_LOCAL_METRICS_BASE", help="Workload N's /metrics is on base + N.")
    ] = 9100,
    detach: Annotated[bool, typer.Option(help="Run in the background (log in DIR/up.log); stop with `down`.")] = False,
) -> None:
    """Start Kafka, Redis, PostgreSQL, Prometheus and every workload; Ctrl-C stops everything."""
    from gridwatch.local import runtime

    opts = runtime.Options(
        dir=dir,
        site=site,
        sensors=sensors,
        api_port=api_port,
        metrics_base=metrics_base,
        ports={"kafka": kafka_port, "redis": redis_port, "postgres": postgres_port, "prometheus": prometheus_port},
    )
    if detach:
        raise typer.Exit(runtime.up_detached(opts, runtime.argv(opts)))
    raise typer.Exit(runtime.up(opts))


@app.command()
def down(dir: Dir = Path(".gridwatch")) -> None:
    """Stop a background `gridwatch local up --detach` (or `make up-detached`)."""
    from gridwatch.local import runtime

    raise typer.Exit(runtime.down(runtime.Options(dir=dir)))


@app.command()
def status(dir: Dir = Path(".gridwatch")) -> None:
    """Show the servers and workloads of a running `gridwatch local up`, with their restarts."""
    from gridwatch.local import runtime

    raise typer.Exit(runtime.status(runtime.Options(dir=dir)))
