"""WebSocket: a snapshot on connect, then periodic updates, critical-alert bursts and producer notices.

With authentication on, the token comes as the subprotocol after "bearer" or as `?access_token=` (api/auth.py);
a missing or refused token closes the socket with 1008 (policy violation) right after the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from redis.exceptions import RedisError

from gridwatch.api import metrics
from gridwatch.api.auth import Authenticator, AuthError, IssuerUnavailable, websocket_credentials
from gridwatch.api.contract import ErrorEvent
from gridwatch.api.encoding import encode
from gridwatch.api.live import LiveHub

router = APIRouter(tags=["live"])
log = structlog.get_logger(__name__)


@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    """Stream live updates of the site (`contract.LiveEvent` messages, JSON text frames) to one client."""
    hub: LiveHub = websocket.app.state.hub
    settings = websocket.app.state.settings
    auth: Authenticator | None = websocket.app.state.auth
    token, subprotocol = websocket_credentials(websocket.scope)
    await websocket.accept(subprotocol=subprotocol)
    if auth is not None:
        try:
            await auth.authorize(token, auth.read_scopes)
        except AuthError as exc:
            await websocket.close(code=1008, reason=f"{exc.error or 'unauthorized'}: {exc.detail}"[:120])
            return
        except IssuerUnavailable:
            await websocket.close(code=1013, reason="the identity provider is unavailable")  # try again later
            return
    client = hub.add()
    labels = hub.labels
    try:
        try:
            data, kind = await hub.snapshot(settings.ws_snapshot_limit), "snapshot"
        except (RedisError, OSError) as exc:
            log.warning("snapshot failed: redis unavailable", error=str(exc))
            data, kind = encode(ErrorEvent(ts=time.time(), detail="Redis is unavailable")), "error"
        await websocket.send_text(data.decode())
        metrics.WS_MESSAGES.labels(**labels, type=kind).inc()
        receiver = asyncio.create_task(_drain(websocket))
        while not receiver.done():
            getter = asyncio.create_task(client.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_text(getter.result().decode())
            else:
                getter.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        hub.remove(client)
        with contextlib.suppress(Exception):
            await websocket.close()


async def _drain(websocket: WebSocket) -> None:
    """Read and ignore whatever the client sends (text, binary, garbage), so that a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
