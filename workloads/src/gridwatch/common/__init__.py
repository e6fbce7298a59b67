"""Code shared by two or more workloads: settings, wire schema, Kafka/Redis helpers, logging."""
