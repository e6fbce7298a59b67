"""Optional OIDC/JWT authentication of reads, `/ws` and `/docs`: JWKS discovery and cache, token checks, scopes."""

from __future__ import annotations

import asyncio
import http
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx
import msgspec
import structlog
from fastapi import HTTPException, Request, status
from starlette.types import ASGIApp, Receive, Scope, Send

from gridwatch.api.contract import Problem
from gridwatch.api.openapi import PROBLEM_JSON
from gridwatch.api.settings import ApiSettings

if TYPE_CHECKING:  # PyJWT (and its cryptography) is imported only when an issuer is configured: `make up` skips it
    import jwt

log = structlog.get_logger(__name__)
REALM = "gridwatch"
STATIC_USER = "api-token"  # the acting user recorded for a write made with GRIDWATCH_API_TOKEN
WS_SUBPROTOCOL = "bearer"  # a WebSocket client offers ["bearer", "<token>"]; the server answers "bearer"
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
MAX_USER = 128  # alert actors are at most this long (gw_alerts.acknowledged_by)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the token's user (preferred_username, else sub) and its scopes and roles."""

    user: str
    grants: frozenset[str]
    static: bool = False  # the shared GRIDWATCH_API_TOKEN, which grants everything and names nobody


class AuthError(Exception):
    """A request the API refuses: 401 (no or invalid token) or 403 (missing scope), per RFC 6750 section 3."""

    def __init__(self, status_code: int, detail: str, error: str | None = None, scope: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.error = error
        self.scope = scope

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` value: no error code when no token was sent (RFC 6750 section 3.1)."""
        parts = [f'realm="{REALM}"']
        if self.error is not None:
            parts += [f'error="{self.error}"', f'error_description="{self.detail}"']
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(parts)

    def http(self) -> HTTPException:
        """As an HTTPException, which api/problems.py answers as problem+json with the challenge header."""
        return HTTPException(self.status_code, self.detail, headers={"WWW-Authenticate": self.challenge})


class IssuerUnavailable(Exception):
    """The issuer's discovery document or JWKS cannot be fetched and no keys are cached: 503, not 401."""

    def http(self) -> HTTPException:
        """As a 503 without internal text."""
        return HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the identity provider is unavailable", headers={"Retry-After": "5"}
        )


def invalid(detail: str) -> AuthError:
    """A 401 for a token that was sent but cannot be accepted."""
    return AuthError(status.HTTP_401_UNAUTHORIZED, detail, error="invalid_token")


def grants_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes (`scope` string, `scp` string or list) and roles (`roles`, Keycloak's `realm_access.roles`)."""
    found: set[str] = set()

    def add(value: object) -> None:
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))

    add(claims.get("scope"))
    add(claims.get("scp"))
    add(claims.get("roles"))
    realm = claims.get("realm_access")
    if isinstance(realm, dict):
        add(realm.get("roles"))
    return frozenset(found)


def user_of(claims: Mapping[str, Any]) -> str:
    """The acting user: `preferred_username` when the token has one, else `sub`."""
    name = claims.get("preferred_username")
    user = name if isinstance(name, str) and name.strip() else str(claims["sub"])
    return user[:MAX_USER]


class JwksCache:
    """The issuer's signing keys by kid: fetched on first use, kept `ttl` seconds, refetched on an unknown kid.

    Refetches (expiry or unknown kid) happen at most every `min_refresh` seconds, so a flood of tokens with made-up
    kids cannot turn into a flood of requests to the issuer; a failed refetch keeps the keys already known.
    """

    def __init__(self, issuer: str, jwks_url: str, ttl: float, min_refresh: float) -> None:
        self.client: httpx.AsyncClient | None = None  # Authenticator.start() opens it inside the app's event loop
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.keys: dict[str | None, jwt.PyJWK] | None = None
        self.fetched_at = 0.0
        self.attempted_at = -float("inf")
        self.fetches = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The signing key named `kid` (or the only key when the token names none)."""
        if self.keys is None or time.monotonic() - self.fetched_at > self.ttl:
            await self.refresh()
        found = self._find(kid)
        if found is None:  # the issuer may have rotated its keys since we fetched them
            await self.refresh()
            found = self._find(kid)
        if found is None:
            raise invalid("the token's signing key (kid) is not one of the issuer's keys")
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        keys = self.keys or {}
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        return keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the JWKS (discovering its URL first when not configured), unless one was tried just now."""
        import jwt

        async with self._lock:
            now = time.monotonic()
            if self.keys is not None and now - self.attempted_at < self.min_refresh:
                return
            self.attempted_at = now
            try:
                url = self.jwks_url or await self._discover()
                response = await self._http().get(url)
                response.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
                log.warning("jwks fetch failed", issuer=self.issuer, error=str(exc), cached=self.keys is not None)
                if self.keys is None:
                    raise IssuerUnavailable() from exc
                return
            self.fetches += 1
            self.keys = {k.key_id: k for k in keyset.keys if k.public_key_use in (None, "sig")}
            self.fetched_at = now
            log.info("jwks fetched", issuer=self.issuer, kids=sorted(str(k) for k in self.keys))

    def _http(self) -> httpx.AsyncClient:
        if self.client is None:
            raise RuntimeError("the authenticator was not started (the app's lifespan starts it)")
        return self.client

    async def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await self._http().get(url)
        response.raise_for_status()
        config = response.json()
        if config.get("issuer") != self.issuer:  # OpenID Connect Discovery 1.0, section 4.3
            raise ValueError(f"discovery document names issuer {config.get('issuer')!r}, not {self.issuer!r}")
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise ValueError("discovery document has no jwks_uri")
        self.jwks_url = jwks_uri
        return jwks_uri


def _split(value: str) -> frozenset[str]:
    return frozenset(value.split())


class Authenticator:
    """Checks bearer tokens against one issuer: signature (RS256/ES256 by default), exp, nbf, iss, aud, scopes."""

    def __init__(self, settings: ApiSettings) -> None:
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.algorithms = _split(settings.auth_algorithms)
        self.leeway = settings.auth_leeway_s
        self.read_scopes = _split(settings.auth_read_scopes)
        self.write_scopes = _split(settings.auth_write_scopes)
        self.protect_docs = settings.auth_protect_docs
        self.static_token = settings.token.get_secret_value()
        self.jwks = JwksCache(
            self.issuer, settings.auth_jwks_url, settings.auth_jwks_cache_s, settings.auth_jwks_min_refresh_s
        )

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Authenticator | None:
        """The authenticator, or None when no issuer is configured (reads open, writes by GRIDWATCH_API_TOKEN)."""
        return cls(settings) if settings.auth_issuer else None

    async def start(self) -> None:
        """Open the HTTP client that fetches the discovery document and the JWKS (keys are fetched on first use)."""
        self.jwks.client = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)

    async def aclose(self) -> None:
        """Close that client."""
        if self.jwks.client is not None:
            await self.jwks.client.aclose()
            self.jwks.client = None

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; AuthError(401) for any token this API cannot accept."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise invalid("the bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise invalid(f"the token's algorithm is not one of {' '.join(sorted(self.algorithms))}")
        if unverified.get("iss") != self.issuer:  # before any JWKS fetch: a foreign token never triggers one
            raise invalid("the token's issuer (iss) is not trusted")
        kid = header.get("kid")
        key = await self.jwks.key(kid if isinstance(kid, str) else None)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[str(alg)],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise invalid("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise invalid("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise invalid("the token's audience (aud) is not this API") from None
        except jwt.InvalidIssuerError:
            raise invalid("the token's issuer (iss) is not trusted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise invalid(f"the token has no '{exc.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise invalid("the token's signature is not valid") from None
        except (jwt.InvalidTokenError, jwt.PyJWKError, TypeError, ValueError):
            raise invalid("the token cannot be verified with the issuer's key") from None
        return Principal(user=user_of(claims), grants=grants_of(claims))

    async def authorize(self, token: str | None, needed: Iterable[str]) -> Principal:
        """The principal of `token` if it holds every scope in `needed`; AuthError(401/403) otherwise."""
        if not token:
            raise AuthError(status.HTTP_401_UNAUTHORIZED, "a bearer token is required")
        if self.static_token and secrets.compare_digest(token.encode(), self.static_token.encode()):
            return Principal(user=STATIC_USER, grants=frozenset(), static=True)
        principal = await self.verify(token)
        missing = sorted(set(needed) - principal.grants)
        if missing:
            scope = " ".join(missing)
            raise AuthError(
                status.HTTP_403_FORBIDDEN, f"the token lacks the scope or role {scope}", "insufficient_scope", scope
            )
        return principal


def bearer_of(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def websocket_credentials(scope: Scope) -> tuple[str | None, str | None]:
    """(token, subprotocol to answer) of a WebSocket handshake.

    Browsers cannot set headers on a WebSocket, so the token comes as the subprotocol after "bearer"
    (`new WebSocket(url, ["bearer", token])`), or as `?access_token=` (RFC 6750 section 2.3), or as a header.
    """
    offered: list[str] = list(scope.get("subprotocols") or [])
    if WS_SUBPROTOCOL in offered:
        after = offered[offered.index(WS_SUBPROTOCOL) + 1 :]
        return (after[0] if after else None), WS_SUBPROTOCOL
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("access_token"):
        return query["access_token"][0], None
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
    return bearer_of(headers), None


async def principal_of(request: Request, needed: Iterable[str]) -> Principal | None:
    """Authorize a request (None when authentication is off); the principal is kept on `request.state`."""
    auth: Authenticator | None = request.app.state.auth
    if auth is None:
        return None
    try:
        principal = await auth.authorize(bearer_of(request.headers), needed)
    except (AuthError, IssuerUnavailable) as exc:
        raise exc.http() from None
    request.state.principal = principal
    return principal


async def read_access(request: Request) -> None:
    """Router dependency of every read: a token with the read scopes when an issuer is configured."""
    auth: Authenticator | None = request.app.state.auth
    if auth is not None:
        await principal_of(request, auth.read_scopes)


class DocsGuard:
    """Guards /docs, /redoc and /openapi.json with the read scopes when an issuer is configured (plain ASGI)."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOCS_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        try:
            await self.auth.authorize(bearer_of(headers), self.auth.read_scopes)
        except AuthError as exc:
            await _answer(send, exc.status_code, exc.detail, {"www-authenticate": exc.challenge})
            return
        except IssuerUnavailable:
            await _answer(send, 503, "the identity provider is unavailable", {"retry-after": "5"})
            return
        await self.app(scope, receive, send)


async def _answer(send: Send, code: int, detail: str, extra: dict[str, str]) -> None:
    body = msgspec.json.encode(Problem(title=http.HTTPStatus(code).phrase, status=code, detail=detail))
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
