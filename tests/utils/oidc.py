"""A local OIDC test issuer: a real HTTP server with discovery + JWKS, keys made here, real signed tokens."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ALGORITHM_OF = {"rsa": "RS256", "ec": "ES256"}


@dataclass
class SigningKey:
    """One private key, its kid and algorithm."""

    kid: str
    alg: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, kid: str, kind: str = "rsa") -> SigningKey:
        """A fresh RSA-2048 (RS256) or P-256 (ES256) key."""
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )
        return cls(kid=kid, alg=ALGORITHM_OF[kind], private=private)

    def jwk(self) -> dict[str, Any]:
        """The public JWK as an issuer publishes it."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        public = self.private.public_key()
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


@dataclass
class TestIssuer:
    """Serves `/.well-known/openid-configuration` and `/jwks.json` on 127.0.0.1 and signs tokens."""

    __test__ = False  # not a pytest test class

    audience: str = "gridwatch-api"
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate("k1", "rsa")])
    jwks_requests: int = 0
    discovery_requests: int = 0
    up: bool = True  # False: every request answers 503
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The issuer URL (the `iss` of its tokens)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> TestIssuer:
        """Listen on a free port in a thread."""
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not issuer.up:
                    self._send(503, {"error": "down"})
                elif self.path == "/.well-known/openid-configuration":
                    issuer.discovery_requests += 1
                    self._send(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"})
                elif self.path == "/jwks.json":
                    issuer.jwks_requests += 1
                    self._send(200, {"keys": [k.jwk() for k in issuer.keys]})
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def token(
        self,
        sub: str = "user-1",
        *,
        key: SigningKey | None = None,
        lifetime_s: float = 300.0,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed with `key` (default: the first published key); `claims` override or add (None drops)."""
        signer = key or self.keys[0]
        now = time.time()
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": self.audience,
            "sub": sub,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + lifetime_s),
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, signer.private, algorithm=signer.alg, headers={"kid": signer.kid, **(headers or {})})
