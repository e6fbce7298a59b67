"""Many WebSocket clients in one asyncio process; each notes the delay of every pushed update (receipt - its ts).

Run as `python -m tests.bench.wsclients --url ws://... --clients 500 --seconds 20 --out result.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake


class Push(msgspec.Struct):
    """The two fields of a pushed message a client needs; the rest is skipped by the decoder."""

    type: str = ""
    ts: float | None = None


_decode = msgspec.json.Decoder(Push).decode


class Tally:
    """What every client saw."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.connected = 0
        self.failed = 0
        self.dropped = 0
        self.snapshots = 0
        self.messages = 0
        self.updates = 0


async def client(url: str, start_at: float, measure_from: float, until: float, tally: Tally) -> None:
    """One client: connect at `start_at`, record update delays between `measure_from` and `until`."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    try:
        async with connect(url, max_size=None, open_timeout=30, ping_interval=None) as ws:
            tally.connected += 1
            while True:
                remaining = until - time.time()
                if remaining <= 0:
                    return
                try:
                    data = await asyncio.wait_for(ws.recv(), remaining)
                except TimeoutError:
                    return
                at = time.time()
                msg = _decode(data)
                if msg.type == "snapshot":
                    tally.snapshots += 1
                elif msg.type in ("update", "critical_alerts") and at >= measure_from and msg.ts is not None:
                    tally.messages += 1
                    tally.updates += msg.type == "update"
                    tally.delays.append(at - msg.ts)
    except ConnectionClosed:
        tally.dropped += 1
    except (OSError, InvalidHandshake, TimeoutError):
        tally.failed += 1


async def run(url: str, clients: int, seconds: float, ramp_s: float) -> dict[str, Any]:
    """Connect `clients` clients over `ramp_s` seconds, then measure for `seconds`."""
    tally = Tally()
    now = time.time()
    measure_from = now + ramp_s + 1.0
    until = measure_from + seconds
    await asyncio.gather(*(client(url, now + ramp_s * i / clients, measure_from, until, tally) for i in range(clients)))
    return {
        "clients": clients,
        "connected": tally.connected,
        "failed": tally.failed,
        "dropped": tally.dropped,
        "snapshots": tally.snapshots,
        "messages": tally.messages,
        "updates": tally.updates,
        "window_s": seconds,
        "delays_s": tally.delays,
    }


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--ramp", type=float, default=5.0)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.write_text(json.dumps(asyncio.run(run(a.url, a.clients, a.seconds, a.ramp))))


if __name__ == "__main__":
    main()
