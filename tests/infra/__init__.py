"""Shared test infrastructure: real local components (Kafka, Redis, Postgres, Prometheus, control plane)."""
