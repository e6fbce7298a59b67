"""`make bench`: throughput, latency and scale of Gridwatch on real Kafka and Redis, beside the seed design."""
