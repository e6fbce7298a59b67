"""Responses encoded by msgspec straight from the contract's Structs (no pydantic pass, no intermediate dicts)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import JSONResponse, Response

_encoder = msgspec.json.Encoder()


class MsgspecJSON(JSONResponse):
    """`application/json` from any msgspec-encodable value (a JSONResponse, so OpenAPI takes the declared schema)."""

    def render(self, content: Any) -> bytes:
        """Encode the body."""
        return _encoder.encode(content)


class RawJSON(Response):
    """`application/json` from bytes already encoded (the micro-cache's)."""

    media_type = "application/json"


def encode(value: Any) -> bytes:
    """JSON bytes of a contract value."""
    return _encoder.encode(value)
