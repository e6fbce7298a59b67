"""A micro-cache of encoded responses: requests within `ttl_s` of each other share one Redis read and one encode.

The live state changes once per processor batch and every reader polls it (the UI every few seconds, dashboards
and scripts at will), so at hundreds of requests a second most of them would re-read and re-encode the same
bytes. Concurrent misses of one key wait for a single computation (no stampede on expiry).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable


class MicroCache:
    """Encoded bodies by key for `ttl_s` seconds, at most `max_keys` keys (least recently used dropped)."""

    def __init__(self, ttl_s: float, max_keys: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_keys = max_keys
        self._entries: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[bytes]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached body of `key`, or `compute()`'s, shared with every request waiting for the same key."""
        if self.ttl_s <= 0:
            return await compute()
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl_s:
            self._entries.move_to_end(key)
            return entry[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            body = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a miss nobody else waited for logs no "never retrieved" warning
            raise
        finally:
            del self._inflight[key]
        future.set_result(body)
        self._entries[key] = (self.clock(), body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        return body
