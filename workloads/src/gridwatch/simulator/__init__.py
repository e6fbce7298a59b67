"""Sensor simulator: industrial machines, injected labelled faults, batched Kafka producer."""
