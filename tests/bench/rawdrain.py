"""The ceiling of one core: consume + decode + discard a pre-filled readings topic, as the processor consumes it.

Run pinned next to the processor drains (`python -m tests.bench.rawdrain BOOTSTRAP TOPIC READINGS`): the same
consumer settings and batch size as the processor's loop, `schema.decode` of every message, nothing else. It
prints one JSON line, `{"readings", "messages", "seconds", "cpu_seconds"}`, timed from the first message to the
last reading, so the processor's cost can be shown as a fraction of the raw rate.
"""

from __future__ import annotations

import json
import sys
import time

from confluent_kafka import Consumer
from gridwatch.common import kafka, schema


def drain(bootstrap: str, topic: str, readings: int, batch: int = 500, timeout_s: float = 600.0) -> dict[str, float]:
    """Consume `topic` from the start in a fresh group until `readings` readings were decoded."""
    group = f"bench-raw-{topic}-{time.time_ns()}"
    consumer = Consumer(kafka.consumer_config(bootstrap, group, "bench-rawdrain"))
    consumer.subscribe([topic])
    seen = messages = 0
    t0 = cpu0 = 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < readings:
            if time.monotonic() > deadline:
                raise TimeoutError(f"decoded {seen} of {readings} readings of {topic}")
            got = consumer.consume(num_messages=batch, timeout=0.5)
            if got and not messages:
                t0, cpu0 = time.monotonic(), time.process_time()
            for msg in got:
                if msg.error() is not None:
                    continue
                decoded = schema.decode(msg.value() or b"")
                messages += 1
                if isinstance(decoded, schema.ReadingBatch):
                    seen += len(decoded.values)
        seconds, cpu = time.monotonic() - t0, time.process_time() - cpu0
    finally:
        consumer.close()
    return {"readings": seen, "messages": messages, "seconds": round(seconds, 6), "cpu_seconds": round(cpu, 6)}


def main(argv: list[str]) -> int:
    """BOOTSTRAP TOPIC READINGS: print the drain's JSON line."""
    bootstrap, topic, readings = argv[0], argv[1], int(argv[2])
    print(json.dumps(drain(bootstrap, topic, readings)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
