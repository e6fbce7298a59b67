"""`make bench`: throughput, latency and scale of Gridwatch on real Kafka, Redis and PostgreSQL vs the seed design."""
