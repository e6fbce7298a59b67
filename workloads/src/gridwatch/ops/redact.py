"""Hide the secrets a connection string or URL carries before it is printed."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "****"
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with the password of a URL (`scheme://user:pw@host`) or a libpq `password=...` replaced by ****."""
    if "://" in text:
        parts = urlsplit(text)
        if parts.password:
            user = parts.username or ""
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            netloc = f"{user}:{MASK}@{host}{port}"
            text = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
