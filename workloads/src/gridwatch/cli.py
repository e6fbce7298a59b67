"""The one command line of every Gridwatch workload and tool.

Workloads: `gridwatch simulator|processor|history|alerts|ingest|grid|api|storage|rebalancer|forecaster|trainer`.
Tools: `gridwatch ingest-token|replay|detect|train|export`, `gridwatch forecast backtest`, `gridwatch models list|
promote|rollback`, `gridwatch local up|down|status`. Operations: `gridwatch check`, `gridwatch config show|validate`,
`gridwatch migrate`, `gridwatch dlq inspect|replay` (and the `kubectl-gridwatch` plugin, gridwatch.ops.kubectl).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from gridwatch.local.cli import app as local_app

if TYPE_CHECKING:
    from gridwatch.common.settings import CommonSettings

ModelKindT = TypeVar("ModelKindT", bound=StrEnum)

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
def replay(
    file: Annotated[
        Path, typer.Argument(help="CSV: long (timestamp,sensor,value) or wide (timestamp + a column per sensor).")
    ],
    sensor_map: Annotated[
        Path | None,
        typer.Option(help='JSON {"<column>": {"id", "type", "machine"}}; unmapped columns keep their name.'),
    ] = None,
    speed: Annotated[str, typer.Option(help="Time compression, e.g. 60x: an hour of recording per minute.")] = "1x",
    as_fast_as_possible: Annotated[bool, typer.Option(help="Do not pace; the last reading lands at now.")] = False,
    sensor_type: Annotated[str, typer.Option("--type", help="Type of unmapped sensors.")] = "power",
    url: Annotated[str | None, typer.Option(help="Ingest base URL (default GRIDWATCH_REPLAY_URL).")] = None,
    token: Annotated[str | None, typer.Option(help="Gateway token (default GRIDWATCH_REPLAY_TOKEN).")] = None,
) -> None:
    """Stream a recorded CSV into a running site through the ingest endpoint."""
    from gridwatch.common.schema import SensorType
    from gridwatch.replay.csvfile import CsvError
    from gridwatch.replay.runner import parse_speed
    from gridwatch.replay.runner import replay as run
    from gridwatch.replay.settings import ReplaySettings

    settings = ReplaySettings()
    try:
        outcome = run(
            file,
            url or settings.url,
            token or settings.token.get_secret_value(),
            speed=parse_speed(speed),
            as_fast_as_possible=as_fast_as_possible,
            sensor_map=sensor_map,
            default_type=SensorType(sensor_type),
        )
    except (CsvError, OSError, ValueError) as exc:
        typer.echo(f"gridwatch replay: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"replayed {outcome.readings} readings in {outcome.requests} requests "
        f"({outcome.rejected} refused, {outcome.retries} retries after 429)",
        err=True,
    )


@app.command()
def grid() -> None:
    """Poll grid APIs (carbon intensity, prices, demand, generation mix) into the grid topic."""
    from gridwatch.grid.app import main
    from gridwatch.grid.settings import GridSettings

    main(GridSettings())


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
        Path,
        typer.Option(
            help="Output CSV: timestamp,value,anomaly_score,anomaly,failure_probability,kind (anomaly_score >= 0.5"
            " on the reading that raises an alarm, anomaly = 1 on every anomalous reading; docs/scoring.md)."
        ),
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


@app.command()
def storage() -> None:
    """Plan the site's batteries every step (MILP) and publish the DispatchPlan on <prefix>.dispatch."""
    from gridwatch.storage.runner import main
    from gridwatch.storage.settings import StorageSettings

    main(StorageSettings())


@app.command()
def rebalancer() -> None:
    """Turn the dispatch plan and live state into safe setpoint commands on <prefix>.commands."""
    from gridwatch.rebalancer.runner import main
    from gridwatch.rebalancer.settings import RebalancerSettings

    main(RebalancerSettings())


@app.command()
def forecaster() -> None:
    """Forecast site and machine load with P10/P50/P90 every step; publish on <prefix>.forecasts and to Redis."""
    from gridwatch.forecasting.runner import main
    from gridwatch.forecasting.settings import ForecasterSettings

    main(ForecasterSettings())


forecast_app = typer.Typer(help="Demand forecasts: backtest the models on any CSV.", no_args_is_help=True)
app.add_typer(forecast_app, name="forecast")


@forecast_app.command("backtest")
def forecast_backtest(
    csv: Annotated[Path, typer.Option("--csv", help="CSV file with a header row.")],
    timestamp_col: Annotated[str, typer.Option(help="Timestamp column (ISO 8601 or epoch seconds).")] = "timestamp",
    value_col: Annotated[str, typer.Option(help="Value column.")] = "value",
    step: Annotated[str, typer.Option(help="Grid step, e.g. 15min, 30min, 1h (default: the median spacing).")] = "",
    horizon: Annotated[int, typer.Option(min=1, help="Steps forecast from each origin.")] = 48,
    folds: Annotated[
        int, typer.Option(min=1, help="Rolling origins, one horizon apart, ending at the file's end.")
    ] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Rolling-origin backtest of every forecasting model on one series; the weekly yardstick is seasonal_naive."""
    from gridwatch.common.forecast.backtest import backtest
    from gridwatch.common.forecast.panel import NotEnoughHistory
    from gridwatch.forecasting import report
    from gridwatch.forecasting.csvload import CsvError, parse_step, read_series

    try:
        step_s = parse_step(step) if step else None
        panel = read_series(csv, timestamp_col, value_col, step_s)
        result = backtest(panel, horizon, folds)
    except (CsvError, NotEnoughHistory, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(report.as_json(result) if as_json else report.table(result, f"{csv} ({panel.length} steps)"))


@app.command()
def trainer() -> None:
    """Retrain the forecaster's selection and the detector's forest every interval; promote what beats the served."""
    from gridwatch.training.runner import main
    from gridwatch.training.settings import TrainerSettings

    main(TrainerSettings())


class ModelChoice(StrEnum):
    """What `gridwatch train` trains."""

    FORECASTER = "forecaster"
    DETECTOR = "detector"
    ALL = "all"


SiteOption = Annotated[str | None, typer.Option(help="Site (default GRIDWATCH_SITE).")]


@app.command()
def train(
    model: Annotated[ModelChoice, typer.Option(help="Which model to train.")] = ModelChoice.ALL,
    site: SiteOption = None,
) -> None:
    """Train once from the site's PostgreSQL history, register the candidate, promote it if it beats the served."""
    from gridwatch.training.runner import Trainer, kinds
    from gridwatch.training.settings import TrainerSettings

    settings = TrainerSettings() if site is None else TrainerSettings(site=site)
    runner = Trainer(settings)
    failed = False
    for kind in kinds(model.value):
        out = runner.train(kind)
        version = "" if out.record is None else f" version {out.record.version}"
        typer.echo(f"{kind.value}{version}: {out.outcome} ({out.reason})")
        failed |= out.outcome == "failed"
    if failed:
        raise typer.Exit(1)


models_app = typer.Typer(help="The model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _registry_settings(site: str | None) -> CommonSettings:
    from gridwatch.common.settings import CommonSettings

    return CommonSettings() if site is None else CommonSettings(site=site)


@models_app.command("list")
def models_list(
    kind: Annotated[str | None, typer.Option(help="forecaster or detector (default: both).")] = None,
    site: SiteOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every registered model: version, state, backtest metric, training window."""
    from gridwatch.common.registry import ModelKind
    from gridwatch.training import commands

    records = commands.list_models(_registry_settings(site), None if kind is None else _kind(kind, ModelKind))
    typer.echo(commands.as_json(records) if as_json else commands.table(records))


@models_app.command("promote")
def models_promote(
    kind: Annotated[str, typer.Argument(help="forecaster or detector")],
    version: Annotated[int, typer.Argument(min=1, help="Version to serve")],
    site: SiteOption = None,
    actor: Annotated[str, typer.Option(help="Who promotes (recorded).")] = "cli",
) -> None:
    """Serve VERSION now (retiring the current one); running replicas hot-reload it."""
    from gridwatch.common.registry import ModelKind, RegistryError
    from gridwatch.training import commands

    try:
        out = commands.promote(_registry_settings(site), _kind(kind, ModelKind), version, actor)
    except RegistryError as exc:
        typer.echo(f"gridwatch models promote: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{out.name} promoted")


@models_app.command("rollback")
def models_rollback(
    kind: Annotated[str, typer.Argument(help="forecaster or detector")],
    site: SiteOption = None,
    actor: Annotated[str, typer.Option(help="Who rolls back (recorded).")] = "cli",
) -> None:
    """Retire the served version and serve again the one before it."""
    from gridwatch.common.registry import ModelKind, RegistryError
    from gridwatch.training import commands

    try:
        out = commands.rollback(_registry_settings(site), _kind(kind, ModelKind), actor)
    except RegistryError as exc:
        typer.echo(f"gridwatch models rollback: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"rolled back: {out.name} promoted")


def _kind(text: str, enum: type[ModelKindT]) -> ModelKindT:
    try:
        return enum(text)
    except ValueError:
        typer.echo(f"error: unknown model kind '{text}' (forecaster or detector)", err=True)
        raise typer.Exit(2) from None


@app.command()
def check(
    timeout: Annotated[float, typer.Option(min=0.5, max=60, help="Seconds to wait for each dependency.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Can this configuration (GRIDWATCH_* variables) reach Kafka, Redis and PostgreSQL, and with what latency."""
    import json

    from pydantic import ValidationError
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from gridwatch.common.settings import CommonSettings
    from gridwatch.ops import check as probes

    try:
        settings = CommonSettings()
    except ValidationError as exc:
        typer.echo(f"gridwatch check: invalid configuration (see `gridwatch config validate`):\n{exc}", err=True)
        raise typer.Exit(2) from None
    results = probes.run(settings, timeout)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        table = Table(title=f"site {settings.site}")
        for col in ("component", "target", "status", "latency", "detail"):
            table.add_column(col)
        for r in results:
            latency = "-" if r.latency_ms is None else f"{r.latency_ms:.1f} ms"
            status = Text("ok", style="green") if r.ok else Text("FAILED", style="bold red")
            table.add_row(r.component, r.target, status, latency, r.detail)
        Console(width=160).print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


config_app = typer.Typer(help="The settings a workload runs with: show them, validate them.", no_args_is_help=True)
app.add_typer(config_app, name="config")
WorkloadArg = Annotated[str, typer.Argument(help="Workload: simulator, processor, history, alerts, api, ...")]
EnvFileOption = Annotated[
    Path | None, typer.Option("--env-file", exists=True, dir_okay=False, help="Read variables from this file too.")
]


@config_app.command("show")
def config_show(
    workload: WorkloadArg,
    env_file: EnvFileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every setting of WORKLOAD: variable, effective value (secrets masked) and whether it came from the env."""
    import json

    from pydantic import ValidationError
    from rich.console import Console
    from rich.table import Table

    from gridwatch.ops import configview

    try:
        found = configview.show(workload, env_file)
    except configview.UnknownWorkload as exc:
        typer.echo(f"gridwatch config show: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError:
        typer.echo(f"gridwatch config show: invalid; run `gridwatch config validate {workload}`", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({s.env: {"value": s.value, "source": s.source} for s in found}, indent=2, default=str))
        return
    table = Table(title=f"gridwatch {workload}")
    for col in ("variable", "value", "source", "description"):
        table.add_column(col)
    for s in found:
        value = s.value if isinstance(s.value, str) else json.dumps(s.value, default=str)
        table.add_row(s.env, value, s.source, s.description)
    Console(width=200).print(table)


@config_app.command("validate")
def config_validate(workload: WorkloadArg, env_file: EnvFileOption = None) -> None:
    """Exit 0 when WORKLOAD would start with this configuration; else name each bad variable and why (exit 2)."""
    from gridwatch.ops import configview

    try:
        problems = configview.validate(workload, env_file)
    except configview.UnknownWorkload as exc:
        typer.echo(f"gridwatch config validate: {exc}", err=True)
        raise typer.Exit(2) from None
    if not problems:
        typer.echo(f"{workload}: configuration is valid")
        return
    for p in problems:
        shown = f" (got {p.value!r})" if p.value else ""
        typer.echo(f"{p.env}: {p.message}{shown}", err=True)
    raise typer.Exit(2)


dlq_app = typer.Typer(help="The dead-letter topic <prefix>.dlq: inspect, replay.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("inspect")
def dlq_inspect(
    last: Annotated[int, typer.Option(min=1, max=100_000, help="Newest letters per partition.")] = 100,
    reason: Annotated[str, typer.Option(help="Only letters whose reason contains this (case-insensitive).")] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line (what `dlq replay --from-file` reads).")
    ] = False,
) -> None:
    """Read the dead letters with their reasons and origins, without committing any offset."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from gridwatch.common.settings import CommonSettings
    from gridwatch.ops import dlq

    settings = CommonSettings()
    try:
        letters = dlq.read(settings, last, reason)
    except dlq.DlqError as exc:
        typer.echo(f"gridwatch dlq inspect: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        import json

        for x in letters:
            typer.echo(json.dumps(x.as_json(), default=str))
        return
    table = Table(title=f"{settings.topic('dlq')}: {len(letters)} letter(s)")
    for col in ("dlq", "time (UTC)", "origin", "reason", "payload"):
        table.add_column(col, overflow="fold")
    for x in letters:
        when = dt.datetime.fromtimestamp(x.timestamp_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        origin = f"{x.origin_topic}[{x.origin_partition}]@{x.origin_offset}"
        table.add_row(f"{x.partition}:{x.offset}", when, origin, x.reason, f"{x.encoding}: {x.preview(60)}")
    Console(width=200).print(table)


@dlq_app.command("replay")
def dlq_replay(
    offset: Annotated[
        list[str] | None, typer.Option(help="DLQ position PARTITION:OFFSET to re-publish (repeatable).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Re-publish every letter whose reason contains this.")] = "",
    from_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="JSON lines from `dlq inspect --json`, fixed by hand."),
    ] = None,
    to: Annotated[str, typer.Option(help="Target topic (default: each letter's origin topic).")] = "",
    last: Annotated[int, typer.Option(min=1, max=100_000, help="How far back to look per partition.")] = 10_000,
    dry_run: Annotated[bool, typer.Option(help="Say what would be re-published; publish nothing.")] = False,
) -> None:
    """Re-publish dead letters (as they were, or fixed from a file) to their origin topic; waits for the broker."""
    from gridwatch.common.settings import CommonSettings
    from gridwatch.ops import dlq

    settings = CommonSettings()
    chosen = [o.strip() for o in offset or []]
    if sum(bool(x) for x in (chosen, reason, from_file)) != 1:
        typer.echo("gridwatch dlq replay: give exactly one of --offset, --reason or --from-file", err=True)
        raise typer.Exit(2)
    try:
        if from_file is not None:
            replays = dlq.from_file(settings, from_file, to)
        else:
            letters = dlq.read(settings, last, reason)
            if chosen:
                letters = [x for x in letters if f"{x.partition}:{x.offset}" in chosen]
                missing = set(chosen) - {f"{x.partition}:{x.offset}" for x in letters}
                if missing:
                    raise dlq.DlqError(f"no dead letter at {', '.join(sorted(missing))}")
            replays = dlq.from_letters(settings, letters, to)
        for r in replays:
            verb = "would re-publish" if dry_run else "re-publish"
            typer.echo(f"{verb} {r.origin} -> {r.topic} ({len(r.payload)} B)")
        if not dry_run:
            typer.echo(f"re-published {dlq.publish(settings, replays)} message(s)")
    except dlq.DlqError as exc:
        typer.echo(f"gridwatch dlq replay: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("export")
def export_csv(
    kind: Annotated[str, typer.Argument(help="history, alerts or suggestions")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout); written whole or not at all.")
    ] = None,
    api_url: Annotated[
        str, typer.Option(envvar="GRIDWATCH_EXPORT_API_URL", help="The site's API.")
    ] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="GRIDWATCH_EXPORT_TOKEN", help="Bearer token when reads need one (OIDC).")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="history: start, epoch s or ISO 8601.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="history: end, exclusive.")] = None,
    sensor: Annotated[str | None, typer.Option(help="history, alerts: one sensor.")] = None,
    sensor_type: Annotated[str | None, typer.Option("--type", help="history: one sensor type.")] = None,
    state: Annotated[str | None, typer.Option(help="alerts: active, acknowledged or cleared.")] = None,
    severity: Annotated[str | None, typer.Option(help="alerts: info, warning or critical.")] = None,
    suggestion_kind: Annotated[str | None, typer.Option("--kind", help="suggestions: one kind.")] = None,
    min_priority: Annotated[float | None, typer.Option(help="suggestions: at least this priority.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv (RFC 4180) or excel (with a UTF-8 BOM).")] = "csv",
    decimal: Annotated[str, typer.Option(help="point, or comma (fields then separated by ';').")] = "point",
) -> None:
    """Write a CSV export of the site's history, alerts or suggestions (/api/v1/export/*.csv) as it streams."""
    import sys

    from gridwatch.api.export_client import ExportFailed, ExportKind, export

    try:
        what = ExportKind(kind)
    except ValueError:
        typer.echo(f"gridwatch export: unknown export '{kind}' (history, alerts or suggestions)", err=True)
        raise typer.Exit(2) from None
    by_kind: dict[ExportKind, dict[str, str | None]] = {
        ExportKind.HISTORY: {"from": start, "to": end, "sensor": sensor, "type": sensor_type},
        ExportKind.ALERTS: {"state": state, "severity": severity, "sensor": sensor},
        ExportKind.SUGGESTIONS: {
            "kind": suggestion_kind,
            "min_priority": None if min_priority is None else str(min_priority),
        },
    }
    given = {k for filters in by_kind.values() for k, v in filters.items() if v is not None}
    foreign = given - {k for k, v in by_kind[what].items() if v is not None}
    if foreign:
        typer.echo(f"gridwatch export {kind}: does not take {', '.join(sorted(foreign))}", err=True)
        raise typer.Exit(2)
    params = {**by_kind[what], "format": fmt, "decimal": decimal}
    try:
        written = export(api_url, what, params, output, sys.stdout.buffer, token)
    except ExportFailed as exc:
        typer.echo(f"gridwatch export {kind}: {exc}", err=True)
        raise typer.Exit(1) from None
    if output is not None:
        typer.echo(f"{output}: {written} bytes", err=True)


@app.command()
def migrate(
    grant: Annotated[
        list[str] | None,
        typer.Option(help="<workload>=<role>, repeatable; added to GRIDWATCH_POSTGRES_ROLES."),
    ] = None,
) -> None:
    """Apply the schema migrations as the database owner, then give each workload role its grants."""
    from gridwatch.common.db.commands import run_migrate
    from gridwatch.common.db.settings import MigrateSettings

    raise typer.Exit(run_migrate(MigrateSettings(), grant or []))


app.add_typer(local_app, name="local")  # `gridwatch local up|down|status`: the local runtime behind `make up`

if __name__ == "__main__":
    app()
