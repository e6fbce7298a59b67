"""Fallback open-loop HTTP load generator (when wrk is missing): requests at fixed start times, latency from then."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx
import numpy as np


async def load(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Send `rate` requests/s for `seconds`; latency counts from each request's scheduled start."""
    latencies: list[float] = []
    errors = 0
    n = int(rate * seconds)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=10) as client:

        async def one(at: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            try:
                response = await client.get(url)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - at)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(start + i / rate) for i in range(n)))
        duration = time.perf_counter() - start
    arr = np.asarray(latencies) * 1000
    p50, p95, p99 = np.percentile(arr, [50, 95, 99]).tolist()
    return {
        "requests": n,
        "duration_s": duration,
        "rate": n / duration,
        "errors": errors,
        "non_2xx": 0,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": float(arr.max()),
        "mean_ms": float(arr.mean()),
    }


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.write_text(json.dumps(asyncio.run(load(a.url, a.rate, a.seconds))))


if __name__ == "__main__":
    main()
