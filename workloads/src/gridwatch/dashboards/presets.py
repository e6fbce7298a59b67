"""Shared pieces of every Gridwatch dashboard: datasource and site variables, query and panel presets.

Every query selects `site=~"$site"` (a multi-select with All, narrowed by the namespace and cluster variables)
and uses `$__rate_interval` inside rate(), so a dashboard works for any sites on any Prometheus whose scrape
interval Grafana knows. Boards link to each other and to the runbooks, and mark Helm revisions, scaling decisions
and firing alerts as annotations.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, common, heatmap, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    AnnotationQuery,
    Dashboard,
    DashboardLink,
    DatasourceVariable,
    QueryVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
SITE = 'site=~"$site"'
RATE = "$__rate_interval"
TAGS = ["gridwatch"]
# A series every workload exports once per scrape target (see gridwatch.common.metrics).
INFO_METRIC = "gridwatch_build_info"
# The chart replaces it with the site's time zone (`timezone` value) when it ships the dashboards.
TIMEZONE = "utc"
RUNBOOKS = "https://github.com/gridwatch/gridwatch/tree/main/docs/runbooks"
# Annotations: (name, colour, expression) from series the operator and Prometheus export.
ANNOTATIONS = (
    ("Helm revisions", "blue", f"changes(gridwatch_operator_helm_revision{{{SITE}}}[{RATE}]) > 0"),
    ("Scaling decisions", "orange", f"increase(gridwatch_operator_scaling_decisions_total{{{SITE}}}[{RATE}]) > 0"),
    ("Alerts firing", "red", f'ALERTS{{alertstate="firing",{SITE}}}'),
)


def _filter_variable(name: str, label: str) -> QueryVariable:
    """A multi-select of the info series' `name` label with All (`.*`, which also matches series without it)."""
    return (
        QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values({INFO_METRIC}, {name})")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def dashboard(uid: str, title: str, description: str) -> Dashboard:
    """A dashboard with the Gridwatch defaults: datasource, cluster, namespace and site variables, links to the other
    boards and the runbooks, operator and alert annotations, shared crosshair, 10s refresh, the site's time zone."""
    board = (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh("10s")
        .time("now-30m", "now")
        .timezone(TIMEZONE)
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .link(
            DashboardLink("Gridwatch")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .link(
            DashboardLink("Runbooks")
            .type(DashboardLinkType.LINK)
            .url(RUNBOOKS)
            .icon("doc")
            .tooltip("What each Gridwatch alert means and what to do")
            .target_blank(True)
        )
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(_filter_variable("cluster", "Cluster"))
        .with_variable(_filter_variable("namespace", "Namespace"))
        .with_variable(
            QueryVariable("site")
            .label("Site")
            .datasource(DATASOURCE)
            .query(f'label_values({INFO_METRIC}{{cluster=~"$cluster",namespace=~"$namespace"}}, site)')
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
        )
    )
    for name, colour, expr in ANNOTATIONS:
        board = board.annotation(
            AnnotationQuery().name(name).datasource(DATASOURCE).enable(True).icon_color(colour).expr(expr)
        )
    return board


def query(expr: str, legend: str = "", ref: str = "A") -> Dataquery:
    """A range query (time series panels)."""
    q = Dataquery().expr(expr).ref_id(ref).range()
    return q.legend_format(legend) if legend else q


def instant(expr: str, legend: str = "", ref: str = "A") -> Dataquery:
    """An instant query (stats, bar gauges, tables)."""
    q = Dataquery().expr(expr).ref_id(ref).instant()
    return q.legend_format(legend) if legend else q


def heatmap_query(expr: str, ref: str = "A") -> Dataquery:
    """A histogram-bucket query rendered as a heatmap (one row per `le`)."""
    return Dataquery().expr(expr).ref_id(ref).range().format(PromQueryFormat.HEATMAP).legend_format("{{le}}")


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    """Absolute thresholds; the first step's value is None (the base colour)."""
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=v, color=c) for v, c in steps])


GREEN = (None, "green")
REF_IDS = "ABCDEFGHIJ"


def series(title: str, description: str, unit: str, *targets: Dataquery) -> timeseries.Panel:
    """A time series panel with a table legend showing mean and last values."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .line_width(1)
        .fill_opacity(10)
        .span(12)
        .height(8)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "lastNotNull"])
        )
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
    )
    for ref, target in zip(REF_IDS, targets, strict=False):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def single(
    title: str, description: str, unit: str, target: Dataquery, steps: ThresholdsConfig | None = None
) -> stat.Panel:
    """A stat panel showing the last value with a sparkline."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(6)
        .height(4)
        .graph_mode(BigValueGraphMode.AREA)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(steps or thresholds(GREEN))
        .with_target(target)
    )


def bars(title: str, description: str, unit: str, target: Dataquery, steps: ThresholdsConfig) -> bargauge.Panel:
    """A horizontal bar gauge, one bar per series."""
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(12)
        .height(8)
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(steps)
        .with_target(target)
    )


def histogram_heatmap(title: str, description: str, target: Dataquery) -> heatmap.Panel:
    """A heatmap of pre-bucketed Prometheus histogram data."""
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .calculate(False)
        .with_target(target)
    )
