"""Entry point of `gridwatch ingest`: the shared pipeline behind the HTTP endpoint and the MQTT bridge."""

from __future__ import annotations

from gridwatch.common import tracing
from gridwatch.common.logging import configure_logging
from gridwatch.common.probes import ProbeServer
from gridwatch.common.shutdown import StopFlag
from gridwatch.ingest.pipeline import Pipeline
from gridwatch.ingest.settings import IngestSettings
from gridwatch.ingest.tokens import TokenStore


def main(settings: IngestSettings) -> None:
    """Serve HTTP (uvicorn handles SIGTERM) and/or bridge MQTT until stopped, then flush Kafka."""
    log = configure_logging(settings.log_level, site=settings.site, component="ingest")
    tracing.configure("gridwatch-ingest")
    # uvicorn re-raises the SIGTERM it caught once it has drained; with our handler installed that re-raise only
    # sets the flag, so the pipeline below still flushes and the process exits 0
    stop = StopFlag().install()
    pipeline = Pipeline(settings)
    registry = None
    if settings.postgres_conninfo:
        from gridwatch.ingest.registry import Registry

        registry = Registry(settings.postgres_conninfo, settings.site, pipeline.snapshot)
        pipeline.catalog.update(registry.load())
        pipeline.restore(registry.load_gateways())
        pipeline.on_declare = registry.declare
        registry.start()
    pipeline.start()
    bridge = None
    if settings.mqtt_enabled:
        from gridwatch.ingest.mqtt import Bridge

        bridge = Bridge(settings, pipeline).start()
    downlink = None
    if settings.mqtt_enabled and settings.downlink_enabled:
        from gridwatch.ingest.downlink import Downlink

        downlink = Downlink(settings, pipeline.labels, pipeline.producer).start()
    try:
        if settings.http_enabled:
            import uvicorn

            from gridwatch.ingest.http import create_app

            tokens = TokenStore(settings.tokens_file)
            if not tokens.gateways:
                log.warning(
                    "no gateway tokens loaded: every HTTP request will be refused", file=str(settings.tokens_file)
                )
            uvicorn.run(
                create_app(settings, pipeline, tokens),
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=10,
            )
        else:
            ready = (lambda: bridge.healthy) if bridge is not None else (lambda: pipeline.started)
            probes = ProbeServer(settings.metrics_host, settings.metrics_port, ready=ready).start()
            try:
                while not stop.wait(1.0):
                    pass
            finally:
                probes.stop()
    finally:
        if downlink is not None:
            downlink.stop()
        if bridge is not None:
            bridge.stop()
        pipeline.close()
        if registry is not None:
            registry.stop()
