"""One function per dashboard panel; each names the metrics it reads, all exported by Gridwatch workloads."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, common, heatmap, stat, timeseries
from grafana_foundation_sdk.models.common import BigValueTextMode, StackingMode
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from gridwatch.common.schema import Status
from gridwatch.dashboards.presets import (
    GREEN,
    INFO_METRIC,
    RATE,
    SITE,
    bars,
    heatmap_query,
    histogram_heatmap,
    instant,
    query,
    series,
    single,
    thresholds,
)

STATUS_COLOURS = {Status.NORMAL: "green", Status.WARNING: "orange", Status.CRITICAL: "red"}


def _fixed_colour(colour: str) -> list[DynamicConfigValue]:
    return [DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]


def _by_component(metric: str, component: str = "") -> str:
    """A process_* metric of the site's targets, labelled with their component through gridwatch_build_info."""
    only = f', component="{component}"' if component else ""
    return f"{metric} * on (job, instance) group_left (component) {INFO_METRIC}{{{SITE}{only}}}"


def _quantile(q: float, bucket: str, by: str = "le") -> str:
    return f"histogram_quantile({q}, sum by ({by}) (rate({bucket}{{{SITE}}}[{RATE}])))"


# --- Site overview --------------------------------------------------------------------------------


def site_power_stat() -> stat.Panel:
    """Current site power."""
    return single(
        "Site power",
        "Sum of every power sensor's latest reading (W), as the API serves it from Redis.",
        "watt",
        instant(f"max by (site) (gridwatch_api_site_power_watts{{{SITE}}})"),
    )


def site_energy_stat() -> stat.Panel:
    """Energy drawn over the dashboard's time range."""
    return single(
        "Energy (time range)",
        "Energy drawn over the dashboard's time range: the processors' energy counter (J, one count per power "
        "reading, summed over replicas), shown in Wh.",
        "watth",
        instant(
            "sum by (site) (increase(gridwatch_processor_energy_joules_total"
            f'{{{SITE},direction="import"}}[$__range])) / 3600'
        ),
    )


def energy_today_stat() -> stat.Panel:
    """The site's energy since its local midnight, as GET /api/v1/analytics/energy computes it."""
    return single(
        "Energy today",
        "Energy since the site's local midnight (its time zone, not the browser's), computed by the API from "
        "PostgreSQL history with the code of GET /api/v1/analytics/energy (refreshed every minute; J, shown in Wh). "
        "One gauge per API replica, all equal: max by (site). No data while PostgreSQL is down.",
        "watth",
        instant(f"max by (site) (gridwatch_api_site_energy_today_joules{{{SITE}}}) / 3600"),
    ).span(12)


def cost_today_stat() -> stat.Panel:
    """The site's energy cost since its local midnight at its tariff, labelled with the tariff's currency."""
    return (
        single(
            "Cost today",
            "Energy cost since the site's local midnight at the site's tariff, in the tariff's currency (shown "
            "beside the value), computed by the API exactly as GET /api/v1/analytics/energy's total_cost (the "
            "UI's dashboard shows the same figure). One gauge per API replica, all equal: max by (site). No data "
            "while PostgreSQL is down.",
            "none",
            instant(f"max by (site, currency) (gridwatch_api_site_cost_today{{{SITE}}})", "{{currency}}"),
        )
        .span(12)
        .decimals(2)
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
    )


def sensors_stat() -> stat.Panel:
    """Sensors with a live state."""
    return single(
        "Sensors",
        "Sensors with a live state in Redis (all status bins).",
        "short",
        instant(f"sum by (site) (max by (site, status) (gridwatch_api_site_sensors{{{SITE}}}))"),
    )


def producers_stat() -> stat.Panel:
    """Producers whose heartbeat is recent."""
    return single(
        "Producers connected",
        "Producers (simulator, gateways) whose heartbeat reached Redis recently; 0 means no readings arrive.",
        "short",
        instant(f"max by (site) (gridwatch_api_site_producers_connected{{{SITE}}})"),
        thresholds((None, "red"), (1, "green")),
    )


def site_power_panel() -> timeseries.Panel:
    """Site power over time."""
    return series(
        "Power",
        "Site power (W): the sum of the latest reading of every power sensor.",
        "watt",
        query(f"max by (site) (gridwatch_api_site_power_watts{{{SITE}}})", "power"),
    )


def site_energy_panel() -> timeseries.Panel:
    """Energy drawn and fed back, as a rate."""
    return series(
        "Energy rate (import / export)",
        "The processors' energy counter (J) as a rate, drawn from (import) and fed back to (export) the grid: "
        "J/s is W, so one hour at this value is this many Wh.",
        "watt",
        query(
            f"sum by (site, direction) (rate(gridwatch_processor_energy_joules_total{{{SITE}}}[$__rate_interval]))",
            "{{direction}}",
        ),
    )


def sensors_by_status_panel() -> timeseries.Panel:
    """Sensors in each status bin, stacked."""
    panel = series(
        "Sensors by status",
        "Sensors in each status bin (normal, warning, critical) from the failure probability and current anomaly.",
        "short",
        query(f"max by (status) (gridwatch_api_site_sensors{{{SITE}}})", "{{status}}"),
    ).stacking(common.StackingConfig().mode(StackingMode.NORMAL))
    for status, colour in STATUS_COLOURS.items():
        panel = panel.override_by_name(status.value, _fixed_colour(colour))
    return panel


def anomalies_by_kind_panel() -> timeseries.Panel:
    """Detected anomalies per second by kind."""
    return series(
        "Anomalies by kind",
        "Anomalous readings per second, by the kind the processor classified (spike, drift, stuck, ...).",
        "cps",
        query(f"sum by (kind) (rate(gridwatch_processor_anomalies_total{{{SITE}}}[{RATE}]))", "{{kind}}"),
    )


def injected_vs_detected_panel() -> timeseries.Panel:
    """Faults the simulator injected next to anomalies the processor found."""
    return series(
        "Injected faults vs detected anomalies",
        "Readings the simulator marked as faulty (ground truth) and readings the processor scored as anomalous.",
        "cps",
        query(f"sum by (site) (rate(gridwatch_simulator_faulty_readings_total{{{SITE}}}[{RATE}]))", "injected"),
        query(f"sum by (site) (rate(gridwatch_processor_anomalies_total{{{SITE}}}[{RATE}]))", "detected"),
    )


def anomaly_ratio_stat() -> stat.Panel:
    """Share of readings that are anomalous."""
    return single(
        "Anomalous readings",
        "Share of scored readings that were anomalous (alert AnomalyRateHigh above 5% for 15 minutes).",
        "percentunit",
        instant(
            f"sum by (site) (rate(gridwatch_processor_anomalies_total{{{SITE}}}[{RATE}]))"
            f" / sum by (site) (rate(gridwatch_processor_readings_total{{{SITE}}}[{RATE}]))"
        ),
        thresholds(GREEN, (0.02, "orange"), (0.05, "red")),
    )


def alerts_by_severity_panel() -> timeseries.Panel:
    """Alerts the processor raised."""
    return series(
        "Alerts raised",
        "Alerts published to the alerts topic per second, by severity (a sensor escalating its status).",
        "cps",
        query(f"sum by (severity) (rate(gridwatch_processor_alerts_total{{{SITE}}}[{RATE}]))", "{{severity}}"),
    )


def top_failure_probabilities_panel() -> bargauge.Panel:
    """The riskiest sensors."""
    return (
        bars(
            "Top failure probabilities",
            "The ten sensors with the highest failure probability (warning from 0.3, critical from 0.8).",
            "percentunit",
            instant(f"topk(10, max by (sensor) (gridwatch_api_site_failure_probability{{{SITE}}}))", "{{sensor}}"),
            thresholds(GREEN, (0.3, "orange"), (0.8, "red")),
        )
        .min(0)
        .max(1)
    )


# --- Pipeline health ------------------------------------------------------------------------------


def throughput_panel() -> timeseries.Panel:
    """Readings produced and processed per second."""
    return series(
        "Throughput",
        "Readings produced to Kafka by the simulator and readings scored and written by the processor.",
        "cps",
        query(f"sum by (site) (rate(gridwatch_simulator_readings_total{{{SITE}}}[{RATE}]))", "produced"),
        query(f"sum by (site) (rate(gridwatch_processor_readings_total{{{SITE}}}[{RATE}]))", "processed"),
    )


def simulator_rate_panel() -> timeseries.Panel:
    """Achieved against asked-for production rate."""
    return series(
        "Simulator rate",
        "The simulator's achieved production rate next to the rate it was asked for.",
        "cps",
        query(f"sum by (site) (gridwatch_simulator_rate_readings_per_second{{{SITE}}})", "achieved"),
        query(f"sum by (site) (gridwatch_simulator_target_rate_readings_per_second{{{SITE}}})", "target"),
    )


def consumer_lag_panel() -> timeseries.Panel:
    """Consumer lag of every partition."""
    return series(
        "Consumer lag by partition",
        "Kafka messages (gateway batches) between the processor group's committed offset and the log end.",
        "short",
        query(f"sum by (partition) (gridwatch_processor_consumer_lag{{{SITE}}})", "partition {{partition}}"),
    )


def consumer_lag_stat() -> stat.Panel:
    """Total consumer lag."""
    return single(
        "Consumer lag",
        "Messages the processor group is behind on the readings topic (alert ProcessorLagHigh above 1000).",
        "short",
        instant(f"sum by (site) (gridwatch_processor_consumer_lag{{{SITE}}})"),
        thresholds(GREEN, (100, "orange"), (1000, "red")),
    )


def latency_panel() -> timeseries.Panel:
    """End-to-end latency quantiles."""
    bucket = "gridwatch_processor_end_to_end_latency_seconds_bucket"
    return series(
        "End-to-end latency",
        "Per reading: from its timestamp at the producer to its state written in Redis.",
        "s",
        query(_quantile(0.5, bucket), "p50"),
        query(_quantile(0.99, bucket), "p99"),
    )


def latency_p99_stat() -> stat.Panel:
    """p99 end-to-end latency."""
    return single(
        "Latency p99",
        "99th percentile of reading timestamp to state written in Redis.",
        "s",
        instant(_quantile(0.99, "gridwatch_processor_end_to_end_latency_seconds_bucket")),
        thresholds(GREEN, (1, "orange"), (5, "red")),
    )


def batch_duration_panel() -> timeseries.Panel:
    """Batch processing time quantiles."""
    bucket = "gridwatch_processor_batch_seconds_bucket"
    return series(
        "Batch duration",
        "Time to process one consumed batch: decode, score, Redis transaction, emit and commit.",
        "s",
        query(_quantile(0.5, bucket), "p50"),
        query(_quantile(0.99, bucket), "p99"),
    )


def score_distribution_panel() -> heatmap.Panel:
    """Anomaly score distribution."""
    return histogram_heatmap(
        "Anomaly score distribution",
        "How the processor's anomaly scores are distributed (0 normal, 0.5 and up anomalous).",
        heatmap_query(f"sum by (le) (increase(gridwatch_processor_anomaly_score_bucket{{{SITE}}}[{RATE}]))"),
    )


def dlq_panel() -> timeseries.Panel:
    """Dead-lettered messages by reason."""
    return series(
        "Dead-lettered messages",
        "Messages sent to the <site>.dlq topic per second, by reason (alert DLQGrowing).",
        "cps",
        query(f"sum by (reason) (rate(gridwatch_processor_dlq_messages_total{{{SITE}}}[{RATE}]))", "{{reason}}"),
    )


def pipeline_errors_panel() -> timeseries.Panel:
    """Errors along the pipeline."""
    return series(
        "Errors",
        "Kafka delivery failures of the simulator, failed (retried) Redis writes and readings skipped as replays.",
        "cps",
        query(f"sum by (site) (rate(gridwatch_simulator_delivery_errors_total{{{SITE}}}[{RATE}]))", "delivery errors"),
        query(f"sum by (site) (rate(gridwatch_processor_store_errors_total{{{SITE}}}[{RATE}]))", "redis write errors"),
        query(f"sum by (site) (rate(gridwatch_processor_replayed_readings_total{{{SITE}}}[{RATE}]))", "replays"),
    )


def heartbeat_age_panel() -> timeseries.Panel:
    """Seconds since each producer's last heartbeat."""
    return series(
        "Producer heartbeat age",
        "Seconds since the processor last received each producer's heartbeat (alert ProducerDown above 30s).",
        "s",
        query(
            f"time() - max by (producer) (gridwatch_processor_producer_heartbeat_timestamp_seconds{{{SITE}}})",
            "{{producer}}",
        ),
    ).thresholds(thresholds(GREEN, (30, "red")))


def sensors_per_replica_panel() -> timeseries.Panel:
    """Sensors tracked by each processor replica."""
    return series(
        "Sensors per processor replica",
        "Sensors whose partitions each processor replica owns; uneven bars mean skewed partitions.",
        "short",
        query(f"sum by (instance) (gridwatch_processor_sensors{{{SITE}}})", "{{instance}}"),
    )


def cpu_panel(component: str = "") -> timeseries.Panel:
    """CPU used by the site's workloads."""
    return series(
        "CPU",
        "CPU seconds per second of each workload process (prometheus_client process metrics).",
        "percentunit",
        query(
            f"sum by (component) ({_by_component(f'rate(process_cpu_seconds_total[{RATE}])', component)})",
            "{{component}}",
        ),
    )


def memory_panel(component: str = "") -> timeseries.Panel:
    """Resident memory of the site's workloads."""
    return series(
        "Memory",
        "Resident memory of each workload process.",
        "bytes",
        query(f"sum by (component) ({_by_component('process_resident_memory_bytes', component)})", "{{component}}"),
    )


# --- API ------------------------------------------------------------------------------------------


def request_rate_panel() -> timeseries.Panel:
    """Requests per second by route."""
    return series(
        "Requests by route",
        "HTTP requests per second by route template.",
        "reqps",
        query(f"sum by (route) (rate(gridwatch_api_request_seconds_count{{{SITE}}}[{RATE}]))", "{{route}}"),
    )


def request_status_panel() -> timeseries.Panel:
    """Requests per second by status code."""
    return series(
        "Requests by status",
        "HTTP requests per second by status code (503: Redis unreachable).",
        "reqps",
        query(f"sum by (status) (rate(gridwatch_api_request_seconds_count{{{SITE}}}[{RATE}]))", "{{status}}"),
    )


def error_ratio_stat() -> stat.Panel:
    """Share of requests answered with 5xx."""
    count = "gridwatch_api_request_seconds_count"
    return single(
        "5xx ratio",
        "Share of requests answered with a 5xx status (alert APIErrorRateHigh above 5% for 5 minutes).",
        "percentunit",
        instant(
            f'(sum(rate({count}{{{SITE}, status=~"5.."}}[{RATE}])) or vector(0)) / sum(rate({count}{{{SITE}}}[{RATE}]))'
        ),
        thresholds(GREEN, (0.01, "orange"), (0.05, "red")),
    )


def request_latency_panel() -> timeseries.Panel:
    """Overall request latency quantiles."""
    bucket = "gridwatch_api_request_seconds_bucket"
    return series(
        "Request latency",
        "Request latency over all routes.",
        "s",
        query(_quantile(0.5, bucket), "p50"),
        query(_quantile(0.95, bucket), "p95"),
        query(_quantile(0.99, bucket), "p99"),
    )


def route_latency_panel() -> timeseries.Panel:
    """p99 latency per route."""
    return series(
        "p99 latency by route",
        "99th percentile request latency of each route template.",
        "s",
        query(_quantile(0.99, "gridwatch_api_request_seconds_bucket", "le, route"), "{{route}}"),
    )


def websocket_clients_stat() -> stat.Panel:
    """Connected WebSocket clients."""
    return single(
        "WebSocket clients",
        "Clients connected to /ws over every API replica.",
        "short",
        instant(f"sum by (site) (gridwatch_api_websocket_clients{{{SITE}}})"),
    )


def websocket_clients_panel() -> timeseries.Panel:
    """WebSocket clients per replica."""
    return series(
        "WebSocket clients per replica",
        "Clients connected to /ws on each API replica.",
        "short",
        query(f"sum by (instance) (gridwatch_api_websocket_clients{{{SITE}}})", "{{instance}}"),
    )


def websocket_messages_panel() -> timeseries.Panel:
    """WebSocket messages sent per second by type."""
    return series(
        "WebSocket messages",
        "Messages pushed to WebSocket clients per second, by type (snapshot, update, critical_alerts, ...).",
        "cps",
        query(f"sum by (type) (rate(gridwatch_api_websocket_messages_total{{{SITE}}}[{RATE}]))", "{{type}}"),
    )


def replicas_stat(component: str) -> stat.Panel:
    """Replicas of a component exporting metrics."""
    return single(
        f"{component.capitalize() if component != 'api' else 'API'} replicas",
        f"{component} processes exporting metrics for this site.",
        "short",
        instant(f'count by (site) ({INFO_METRIC}{{{SITE}, component="{component}"}})'),
    )


def redis_errors_panel() -> timeseries.Panel:
    """Requests failed because Redis was down."""
    return series(
        "Redis unavailable",
        "Requests per second that failed with 503 because Redis did not answer.",
        "reqps",
        query(f"sum by (site) (rate(gridwatch_api_redis_errors_total{{{SITE}}}[{RATE}]))", "redis errors"),
    )


# --- Operator -------------------------------------------------------------------------------------

# The operator exports a series per reason/direction only once one happened; `or on () vector(0)` keeps the
# panel at 0 instead of "No data" until then.


def reconcile_rate_panel() -> timeseries.Panel:
    """Reconciliations per second."""
    return series(
        "Reconciliations",
        "EnergySite reconciliations per second (topics and helm upgrade) and failed ones.",
        "ops",
        query(f"sum by (site) (rate(gridwatch_operator_reconcile_seconds_count{{{SITE}}}[{RATE}]))", "reconciles"),
        query(
            f"sum by (reason) (rate(gridwatch_operator_reconcile_errors_total{{{SITE}}}[{RATE}])) or on () vector(0)",
            "errors {{reason}}",
        ),
    )


def reconcile_duration_panel() -> timeseries.Panel:
    """Reconcile duration quantiles."""
    bucket = "gridwatch_operator_reconcile_seconds_bucket"
    return series(
        "Reconcile duration",
        "Time to reconcile one EnergySite.",
        "s",
        query(_quantile(0.5, bucket), "p50"),
        query(_quantile(0.99, bucket), "p99"),
    )


def helm_revision_stat() -> stat.Panel:
    """The site release's Helm revision."""
    return single(
        "Helm revision",
        "Revision of the site's Helm release; it grows with every upgrade the operator made.",
        "none",
        instant(f"max by (site) (gridwatch_operator_helm_revision{{{SITE}}})"),
    )


def reconcile_errors_stat() -> stat.Panel:
    """Failed reconciliations in the time range."""
    return single(
        "Reconcile errors",
        "Failed reconciliations in the dashboard's time range.",
        "short",
        instant(f"sum(increase(gridwatch_operator_reconcile_errors_total{{{SITE}}}[$__range])) or on () vector(0)"),
        thresholds(GREEN, (1, "red")),
    )


def scaling_decisions_panel() -> timeseries.Panel:
    """Autoscaling decisions by direction."""
    return series(
        "Scaling decisions",
        "Processor autoscaling decisions that changed the replica count, by direction.",
        "short",
        query(
            f"sum by (direction) (increase(gridwatch_operator_scaling_decisions_total{{{SITE}}}[{RATE}]))"
            " or on () vector(0)",
            "{{direction}}",
        ),
    )


def lag_and_replicas_panel() -> timeseries.Panel:
    """What the autoscaler sees and what it did."""
    return series(
        "Lag and processor replicas",
        "Consumer lag the autoscaler acts on, and the processor replicas exporting metrics.",
        "short",
        query(f"max by (site) (gridwatch_operator_consumer_lag_readings{{{SITE}}})", "lag (readings)"),
        query(f"max by (site) (gridwatch_operator_consumer_lag{{{SITE}}})", "lag (messages)"),
        query(f'count by (site) ({INFO_METRIC}{{{SITE}, component="processor"}})', "processor replicas"),
    )


def drift_repairs_panel() -> timeseries.Panel:
    """Objects the operator restored after manual changes."""
    return series(
        "Drift repairs",
        "Release objects the operator restored after someone changed or deleted them, by kind.",
        "short",
        query(
            f"sum by (kind) (increase(gridwatch_operator_drift_repairs_total{{{SITE}}}[{RATE}])) or on () vector(0)",
            "{{kind}}",
        ),
    )


# --- Storage and rebalancer -----------------------------------------------------------------------


def plan_age_stat() -> stat.Panel:
    """Seconds since the optimizer's last plan."""
    return single(
        "Plan age",
        "Seconds since the storage optimizer last published a dispatch plan (one per step; alert StoragePlanStale"
        " after an hour).",
        "s",
        instant(f"time() - max by (site) (gridwatch_storage_last_plan_timestamp_seconds{{{SITE}}})"),
        thresholds(GREEN, (1800, "orange"), (3600, "red")),
    )


def expected_savings_stat() -> stat.Panel:
    """What the current plan saves over its horizon."""
    return single(
        "Expected savings",
        "Cost without the battery minus the current plan's expected cost, over its horizon (tariff currency).",
        "none",
        instant(f"max by (site) (gridwatch_storage_expected_savings{{{SITE}}})"),
    )


def plan_degraded_stat() -> stat.Panel:
    """1 while the plan is not an optimal solve."""
    return single(
        "Plan degraded",
        "1 while the current plan is relaxed, time-limited or a fallback (last good plan or idle) rather than an"
        " optimal solve (alert StoragePlanDegraded after 30 minutes).",
        "short",
        instant(f"max by (site) (gridwatch_storage_plan_degraded{{{SITE}}})"),
        thresholds(GREEN, (1, "red")),
    )


def rebalancer_plan_age_stat() -> stat.Panel:
    """Age of the plan the rebalancer follows."""
    return single(
        "Rebalancer's plan age",
        "Age of the plan the rebalancer turns into commands (alert RebalancerPlanStale after an hour).",
        "s",
        instant(f"max by (site) (gridwatch_rebalancer_plan_age_seconds{{{SITE}}})"),
        thresholds(GREEN, (1800, "orange"), (3600, "red")),
    )


def plans_by_status_panel() -> timeseries.Panel:
    """Plans published per status."""
    return series(
        "Plans by status",
        "Dispatch plans published per hour, by how they were obtained: optimal, relaxed (infeasible as asked),"
        " time_limit, fallback_last, fallback_idle (no solve).",
        "short",
        query(
            f"sum by (status) (rate(gridwatch_storage_plans_total{{{SITE}}}[{RATE}])) * 3600",
            "{{status}}",
        ),
    )


def solve_time_panel() -> timeseries.Panel:
    """Time to obtain one plan."""
    bucket = "gridwatch_storage_solve_seconds_bucket"
    return series(
        "Solve time",
        "Time to obtain one plan, all stages (LP, MILP, relaxations).",
        "s",
        query(_quantile(0.5, bucket), "p50"),
        query(_quantile(0.99, bucket), "p99"),
    )


def plan_cost_panel() -> timeseries.Panel:
    """Expected cost and savings of the current plan."""
    return series(
        "Expected cost and savings",
        "The current plan's expected cost over its horizon and what the battery saves against no battery.",
        "none",
        query(f"max by (site) (gridwatch_storage_expected_cost{{{SITE}}})", "expected cost"),
        query(f"max by (site) (gridwatch_storage_expected_savings{{{SITE}}})", "savings"),
    )


def grid_coverage_panel() -> timeseries.Panel:
    """Share of the plan on grid signals."""
    return (
        series(
            "Grid signals in the plan",
            "Share of the plan's steps priced by fresh day-ahead prices (price) or with their own carbon intensity"
            " (carbon) from <prefix>.grid; 0 means the plan runs on the time-of-use tariff alone.",
            "percentunit",
            query(f"max by (signal) (gridwatch_storage_grid_coverage_ratio{{{SITE}}})", "{{signal}}"),
        )
        .min(0)
        .max(1)
    )


def commands_panel() -> timeseries.Panel:
    """Commands decided per kind."""
    return series(
        "Commands",
        "Commands the rebalancer decided per minute, by kind and whether they were sent (false in dry run).",
        "short",
        query(
            f"sum by (kind, sent) (rate(gridwatch_rebalancer_commands_total{{{SITE}}}[{RATE}])) * 60",
            "{{kind}} sent={{sent}}",
        ),
    )


def clamps_panel() -> timeseries.Panel:
    """Setpoints a safety limit changed."""
    return series(
        "Safety clamps",
        "Battery setpoints per minute that a hard safety limit changed, by limit (alert RebalancerSafetyClampsHigh"
        " when most setpoints are clamped by power or SOC limits).",
        "short",
        query(f"sum by (limit) (rate(gridwatch_rebalancer_clamped_total{{{SITE}}}[{RATE}])) * 60", "{{limit}}"),
    )


def downlink_panel() -> timeseries.Panel:
    """Commands to devices over MQTT."""
    return series(
        "MQTT downlink",
        "Commands the ingest workload read from <prefix>.commands per minute, by outcome: delivered to"
        " gridwatch/<site>/<device>/commands (broker acknowledged), expired, dry_run, invalid (dead-lettered).",
        "short",
        query(
            f"sum by (outcome) (rate(gridwatch_ingest_downlink_commands_total{{{SITE}}}[{RATE}])) * 60",
            "{{outcome}}",
        ),
    )
