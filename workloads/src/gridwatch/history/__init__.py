"""History workload: per-sensor one-minute rollups of enriched readings in PostgreSQL."""
