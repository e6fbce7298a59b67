"""Shared pieces of every Gridwatch dashboard: datasource and site variables, query and panel presets.

Every query selects `site="$site"` and uses `$__rate_interval` inside rate(), so a dashboard works
for any site on any Prometheus whose scrape interval Grafana knows.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, common, heatmap, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
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
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
SITE = 'site="$site"'
RATE = "$__rate_interval"
TAGS = ["gridwatch"]
# A series every workload exports once per scrape target (see gridwatch.common.metrics).
INFO_METRIC = "gridwatch_build_info"


def dashboard(uid: str, title: str, description: str) -> Dashboard:
    """A dashboard with the Gridwatch defaults: datasource and site variables, shared crosshair, 5s refresh."""
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh("10s")
        .time("now-30m", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            QueryVariable("site")
            .label("Site")
            .datasource(DATASOURCE)
            .query(f"label_values({INFO_METRIC}, site)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
    )


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
