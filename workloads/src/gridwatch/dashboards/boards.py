"""The Gridwatch dashboards, assembled from panels: site overview, pipeline health, API, operator and storage."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

from gridwatch.dashboards import panels as p
from gridwatch.dashboards.presets import dashboard


def site_overview() -> Dashboard:
    """What an SRE or site operator looks at first: power, energy, sensor health and the riskiest sensors."""
    return (
        dashboard(
            "gridwatch-site-overview",
            "Gridwatch / Site overview",
            "Power, energy and cost today, sensors by status, anomalies and the riskiest sensors, for one site.",
        )
        .with_row(Row("Now"))
        .with_panel(p.site_power_stat())
        .with_panel(p.site_energy_stat())
        .with_panel(p.sensors_stat())
        .with_panel(p.producers_stat())
        .with_row(Row("Today (site time zone, site tariff)"))
        .with_panel(p.energy_today_stat())
        .with_panel(p.cost_today_stat())
        .with_row(Row("Energy"))
        .with_panel(p.site_power_panel())
        .with_panel(p.site_energy_panel())
        .with_row(Row("Sensor health"))
        .with_panel(p.sensors_by_status_panel())
        .with_panel(p.top_failure_probabilities_panel())
        .with_panel(p.anomalies_by_kind_panel())
        .with_panel(p.injected_vs_detected_panel())
        .with_panel(p.alerts_by_severity_panel())
        .with_panel(p.anomaly_ratio_stat())
    )


def pipeline_health() -> Dashboard:
    """Simulator -> Kafka -> processor -> Redis: throughput, lag, latency, dead letters and errors."""
    return (
        dashboard(
            "gridwatch-pipeline-health",
            "Gridwatch / Pipeline health",
            "Throughput, consumer lag, end-to-end latency, dead letters and errors of one site's data pipeline.",
        )
        .with_row(Row("Flow"))
        .with_panel(p.consumer_lag_stat())
        .with_panel(p.latency_p99_stat())
        .with_panel(p.replicas_stat("processor"))
        .with_panel(p.replicas_stat("simulator"))
        .with_panel(p.throughput_panel())
        .with_panel(p.simulator_rate_panel())
        .with_panel(p.consumer_lag_panel())
        .with_panel(p.heartbeat_age_panel())
        .with_row(Row("Latency"))
        .with_panel(p.latency_panel())
        .with_panel(p.batch_duration_panel())
        .with_panel(p.score_distribution_panel())
        .with_panel(p.sensors_per_replica_panel())
        .with_row(Row("Errors"))
        .with_panel(p.dlq_panel())
        .with_panel(p.pipeline_errors_panel())
        .with_row(Row("Resources"))
        .with_panel(p.cpu_panel())
        .with_panel(p.memory_panel())
    )


def api() -> Dashboard:
    """The REST and WebSocket API: rate, errors, latency and live clients."""
    return (
        dashboard(
            "gridwatch-api",
            "Gridwatch / API",
            "Request rate, status codes, latency and WebSocket clients of one site's API replicas.",
        )
        .with_row(Row("Now"))
        .with_panel(p.error_ratio_stat())
        .with_panel(p.websocket_clients_stat())
        .with_panel(p.replicas_stat("api"))
        .with_panel(p.producers_stat())
        .with_row(Row("Requests"))
        .with_panel(p.request_rate_panel())
        .with_panel(p.request_status_panel())
        .with_panel(p.request_latency_panel())
        .with_panel(p.route_latency_panel())
        .with_row(Row("Live"))
        .with_panel(p.websocket_clients_panel())
        .with_panel(p.websocket_messages_panel())
        .with_panel(p.redis_errors_panel())
        .with_row(Row("Resources"))
        .with_panel(p.cpu_panel("api"))
        .with_panel(p.memory_panel("api"))
    )


def operator() -> Dashboard:
    """The gridwatch-operator's work on one site: reconciles, Helm revisions, autoscaling and drift repairs."""
    return (
        dashboard(
            "gridwatch-operator",
            "Gridwatch / Operator",
            "Reconciliations, Helm revisions, processor autoscaling and drift repairs the operator made for a site.",
        )
        .with_row(Row("Now"))
        .with_panel(p.helm_revision_stat())
        .with_panel(p.reconcile_errors_stat())
        .with_panel(p.consumer_lag_stat())
        .with_panel(p.producers_stat())
        .with_row(Row("Reconciliation"))
        .with_panel(p.reconcile_rate_panel())
        .with_panel(p.reconcile_duration_panel())
        .with_row(Row("Scaling"))
        .with_panel(p.scaling_decisions_panel())
        .with_panel(p.lag_and_replicas_panel())
        .with_panel(p.drift_repairs_panel())
    )


def storage() -> Dashboard:
    """The storage optimizer and the grid rebalancer: plans, solver health, grid signals, commands and clamps."""
    return (
        dashboard(
            "gridwatch-storage",
            "Gridwatch / Storage",
            "Battery dispatch plans (age, status, solve time, savings, grid signals) and the rebalancer's commands,"
            " safety clamps and MQTT delivery, for one site.",
        )
        .with_row(Row("Now"))
        .with_panel(p.plan_age_stat())
        .with_panel(p.plan_degraded_stat())
        .with_panel(p.expected_savings_stat())
        .with_panel(p.rebalancer_plan_age_stat())
        .with_row(Row("Plans"))
        .with_panel(p.plans_by_status_panel())
        .with_panel(p.solve_time_panel())
        .with_panel(p.plan_cost_panel())
        .with_panel(p.grid_coverage_panel())
        .with_row(Row("Commands"))
        .with_panel(p.commands_panel())
        .with_panel(p.clamps_panel())
        .with_panel(p.downlink_panel())
    )


# file name (without .json) -> dashboard factory, in the order they are documented
BOARDS: dict[str, Callable[[], Dashboard]] = {
    "site-overview": site_overview,
    "pipeline-health": pipeline_health,
    "api": api,
    "operator": operator,
    "storage": storage,
}
