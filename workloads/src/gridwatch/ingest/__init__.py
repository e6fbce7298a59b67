"""Device ingest: HTTP and MQTT telemetry from real gateways into the readings topic."""
