"""Metrics every workload shares: the info series that names a scrape target's site and component."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, disable_created_metrics
from prometheus_client.exposition import choose_encoder

# No `<name>_created` series next to every counter and histogram: they double the series count, and Prometheus
# only reads them with created-timestamp ingestion turned on (OpenMetrics exposition carries them too).
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated

LABELS = ("site", "component")
BUILD_INFO = Gauge(
    "gridwatch_build_info",
    "Always 1; its labels tell which site and component a scrape target serves, and the version",
    (*LABELS, "version"),
)


def package_version() -> str:
    """Installed version of the gridwatch package."""
    try:
        return version("gridwatch")
    except PackageNotFoundError:
        return "unknown"


def announce(site: str, component: str) -> dict[str, str]:
    """Publish the info series of one workload and return its `site`/`component` labels."""
    BUILD_INFO.labels(site=site, component=component, version=package_version()).set(1)
    return {"site": site, "component": component}


def exposition(accept: str | None, registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """(body, content type) of `registry` in the format the scraper accepts: OpenMetrics when asked for (it
    carries the trace-id exemplars of the latency histograms), else the Prometheus text format."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
