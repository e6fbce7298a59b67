"""`kubectl gridwatch status|list`: one screen per EnergySite, in the spirit of `kubectl cnpg status`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gridwatch.ops import site_alerts

GROUP, VERSION, PLURAL = "gridwatch.io", "v1alpha1", "energysites"

app = typer.Typer(
    help="Gridwatch sites on this cluster (the EnergySite operator's view, live).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@dataclass
class Component:
    """One Deployment of the site's release, read live."""

    name: str
    component: str
    desired: int
    ready: int
    updated: int
    image: str


@dataclass
class SiteReport:
    """Everything `status` prints, also as JSON (`-o json`)."""

    name: str
    namespace: str
    site_id: str
    conditions: list[dict[str, Any]]
    components: list[Component]
    processors: str
    consumer_lag: dict[str, Any]
    data_flow: dict[str, Any]
    sensors_reporting: int | None
    scaling: dict[str, Any]
    helm: dict[str, Any]
    drift: dict[str, Any]
    events: list[dict[str, str]]
    alerts: dict[str, Any] = field(default_factory=dict)
    generation: int = 0
    observed_generation: int | None = None


def _clients(context: str | None) -> tuple[Any, Any, Any]:
    from kubernetes import client, config

    config.load_kube_config(context=context)  # type: ignore[no-untyped-call]
    return client.CustomObjectsApi(), client.AppsV1Api(), client.CoreV1Api()


def _age(stamp: str | None) -> str:
    """'42s', '5m', '3h', '2d' since an RFC 3339 time."""
    if not stamp:
        return "-"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def gather(name: str, namespace: str, context: str | None = None, alerts: bool = True) -> SiteReport:
    """Read the EnergySite, its Deployments, its recent events and (through the API server) its active alerts."""
    from kubernetes.client.exceptions import ApiException

    custom, apps, core = _clients(context)
    try:
        site = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            raise LookupError(f'energysite "{name}" not found in namespace "{namespace}"') from None
        raise
    status: dict[str, Any] = site.get("status") or {}
    helm: dict[str, Any] = status.get("helm") or {}
    release = str(helm.get("release") or name)
    selector = f"app.kubernetes.io/instance={release}"
    components = [
        Component(
            name=d.metadata.name,
            component=(d.metadata.labels or {}).get("app.kubernetes.io/component", "?"),
            desired=d.spec.replicas or 0,
            ready=(d.status.ready_replicas or 0),
            updated=(d.status.updated_replicas or 0),
            image=d.spec.template.spec.containers[0].image if d.spec.template.spec.containers else "",
        )
        for d in apps.list_namespaced_deployment(namespace, label_selector=selector).items
    ]
    events = sorted(
        core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.kind=EnergySite,involvedObject.name={name}"
        ).items,
        key=lambda e: str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp),
    )[-8:]
    report = SiteReport(
        name=name,
        namespace=namespace,
        site_id=str(status.get("siteId") or ""),
        conditions=list(status.get("conditions") or []),
        components=sorted(components, key=lambda c: c.component),
        processors=str(status.get("processors") or "-"),
        consumer_lag={k: v for k, v in status.items() if k.startswith("consumerLag")},
        data_flow=dict(status.get("dataFlow") or {}),
        sensors_reporting=status.get("sensorsReporting"),
        scaling=dict(status.get("scaling") or {}),
        helm=helm,
        drift=dict(status.get("drift") or {}),
        events=[
            {
                "age": _age(str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp or "")),
                "type": e.type or "",
                "reason": e.reason or "",
                "message": e.message or "",
            }
            for e in events
        ],
        generation=int(site["metadata"].get("generation") or 0),
        observed_generation=status.get("observedGeneration"),
    )
    if alerts:
        report.alerts = site_alerts.fetch(core, namespace, release)
    return report


def _condition_text(c: dict[str, Any]) -> Text:
    ok = (c.get("status") == "True") != (c.get("type") == "Degraded")
    return Text(f"{c.get('type')}={c.get('status')}", style="green" if ok else "red")


def render(r: SiteReport) -> Group:
    """The one screen."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Site", f"{r.namespace}/{r.name}  (identity {r.site_id or '-'})")
    head.add_row("Conditions", Text(" ").join(_condition_text(c) for c in r.conditions) or Text("-"))
    ready = next((c for c in r.conditions if c.get("type") == "Ready"), {})
    if ready.get("message"):
        head.add_row("", str(ready.get("message")))
    gen = f"generation {r.generation}, observed {r.observed_generation if r.observed_generation is not None else '-'}"
    head.add_row("Reconciled", gen)
    helm = r.helm
    release = f"release {helm.get('release', '-')} revision {helm.get('revision', '-')}"
    applied = f"chart {helm.get('chartVersion', '-')}, applied {_age(helm.get('lastAppliedTime'))} ago"
    head.add_row("Helm", f"{release} {applied}" + (f"  error: {helm['error']}" if helm.get("error") else ""))
    readings, messages = r.consumer_lag.get("consumerLagReadings"), r.consumer_lag.get("consumerLag")
    lag = f"{'-' if readings is None else readings} readings ({'-' if messages is None else messages} messages)"
    head.add_row("Processors", f"{r.processors} ready/desired; lag: {lag}")
    flow = r.data_flow
    newest = flow.get("lastMessageTime")
    newest_text = "-" if newest is None else f"{max(0.0, datetime.now(UTC).timestamp() - float(newest)):.0f} s ago"
    sensors = "-" if r.sensors_reporting is None else str(r.sensors_reporting)
    error = f"  error: {flow['error']}" if flow.get("error") else ""
    head.add_row("Data flow", f"newest reading {newest_text}, sensors reporting {sensors}{error}")
    decision = r.scaling.get("lastDecision") or {}
    if decision:
        head.add_row(
            "Last scaling",
            f"{decision.get('from')} → {decision.get('to')} {_age(decision.get('time'))} ago at lag "
            f"{decision.get('lag')}: {decision.get('reason', '')}",
        )
    if r.drift.get("repairs"):
        head.add_row("Drift repairs", f"{r.drift['repairs']} (last {r.drift.get('lastRepair', '')})")
    alerts = r.alerts
    if alerts.get("error"):
        head.add_row("Alerts", f"unknown ({alerts['error']})")
    elif alerts:
        head.add_row("Alerts", f"{alerts.get('active', 0)} active")
        for line in alerts.get("latest", []):
            head.add_row("", str(line)[:140])

    comps = Table(title="Components", title_justify="left", expand=False)
    for col in ("component", "deployment", "ready/desired", "updated", "image"):
        comps.add_column(col)
    for c in r.components:
        style = "green" if c.ready >= c.desired else "yellow"
        comps.add_row(c.component, c.name, Text(f"{c.ready}/{c.desired}", style=style), str(c.updated), c.image)
    events = Table(title="Recent events", title_justify="left")
    for col in ("age", "type", "reason", "message"):
        events.add_column(col)
    for e in r.events:
        events.add_row(e["age"], e["type"], e["reason"], e["message"][:120])
    return Group(Panel(head, title=f"EnergySite {r.name}", expand=False), comps, events)


def _namespace(namespace: str | None, context: str | None) -> str:
    if namespace:
        return namespace
    from kubernetes import config

    _, active = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    if context:
        contexts, _ = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
        active = next((c for c in contexts if c["name"] == context), active)
    return str((active or {}).get("context", {}).get("namespace") or "default")


Namespace = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace (default: the context's).")]
Context = Annotated[str | None, typer.Option("--context", help="kubeconfig context (default: current).")]
Output = Annotated[str, typer.Option("--output", "-o", help="text or json")]


@app.command()
def status(
    name: Annotated[str, typer.Argument(help="EnergySite name")],
    namespace: Namespace = None,
    context: Context = None,
    output: Output = "text",
    no_alerts: Annotated[bool, typer.Option(help="Do not ask the site's API for active alerts.")] = False,
) -> None:
    """Components, replicas, lag, data flow, last scaling decision, alerts and Helm revision of one site."""
    from kubernetes.client.exceptions import ApiException

    ns = _namespace(namespace, context)
    try:
        report = gather(name, ns, context, alerts=not no_alerts)
    except LookupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    except ApiException as exc:
        typer.echo(f"Error: the API server answered {exc.status} {exc.reason}", err=True)
        raise typer.Exit(1) from None
    if output == "json":
        typer.echo(json.dumps(asdict(report), default=str, indent=2))
    else:
        Console(width=160).print(render(report))


@app.command("list")
def list_sites(
    namespace: Namespace = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    context: Context = None,
) -> None:
    """Every EnergySite with its readiness, processors, lag and Helm revision."""
    custom, _, _ = _clients(context)
    if all_namespaces:
        items = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    else:
        items = custom.list_namespaced_custom_object(GROUP, VERSION, _namespace(namespace, context), PLURAL)["items"]
    table = Table()
    for col in (
        "namespace",
        "name",
        "ready",
        "processors",
        "lag (readings)",
        "lag (messages)",
        "sensors",
        "revision",
        "age",
    ):
        table.add_column(col)
    for site in items:
        st = site.get("status") or {}
        ready: dict[str, Any] = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
        table.add_row(
            site["metadata"]["namespace"],
            site["metadata"]["name"],
            str(ready.get("status", "-")),
            str(st.get("processors", "-")),
            str(st.get("consumerLagReadings", "-")),
            str(st.get("consumerLag", "-")),
            str(st.get("sensorsReporting", "-")),
            str((st.get("helm") or {}).get("revision", "-")),
            _age(site["metadata"].get("creationTimestamp")),
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    app()
