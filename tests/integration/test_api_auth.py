"""Optional OIDC/JWT authentication of the API against a local test issuer (real HTTP, real keys and signatures),
on real Redis and PostgreSQL: reads, writes and the acting user, /ws, /docs, key rotation, an unreachable issuer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from gridwatch.api.app import create_app
from gridwatch.api.settings import ApiSettings
from gridwatch.common.db.migrate import connect, migrate
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from tests.infra.services import Postgres, Redis
from tests.utils.oidc import SigningKey, TestIssuer
from tests.utils.site_state import seed_site

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"
STATIC = "static-write-token"


@pytest.fixture
def issuer() -> Iterator[TestIssuer]:
    test_issuer = TestIssuer(keys=[SigningKey.generate("rsa-1", "rsa"), SigningKey.generate("ec-1", "ec")]).start()
    yield test_issuer
    test_issuer.stop()


def make_settings(redis_server: Redis, postgres: Postgres, site: str, issuer: TestIssuer, **extra: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "site": site,
        "redis_url": redis_server.url,
        "postgres_dsn": postgres.dsn,
        "rate_limit_rps": 0,
        "token": STATIC,
        "auth_issuer": issuer.url,
        "auth_audience": issuer.audience,
        "auth_read_scopes": "gridwatch:read",
        "auth_write_scopes": "gridwatch:write",
        "auth_jwks_min_refresh_s": 0,
        **extra,
    }
    return ApiSettings(**values)


@pytest.fixture
def client(
    redis_server: Redis, postgres: Postgres, site: str, issuer: TestIssuer, redis_client: redis.Redis
) -> Iterator[TestClient]:
    seed_site(redis_client, site, 20)
    with TestClient(create_app(make_settings(redis_server, postgres, site, issuer))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(response: Any, status: int) -> tuple[str, str]:
    """(problem detail, WWW-Authenticate) of a refused request, after checking it is problem+json."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    return body["detail"], response.headers.get("www-authenticate", "")


def test_reads_need_a_valid_token(client: TestClient, issuer: TestIssuer) -> None:
    detail, challenge = refused(client.get("/api/v1/sensors"), 401)
    assert detail == "a bearer token is required" and challenge == 'Bearer realm="gridwatch"'
    for key in issuer.keys:  # RS256 and ES256
        ok = client.get("/api/v1/sensors", headers=bearer(issuer.token(key=key, scope="openid gridwatch:read")))
        assert ok.status_code == 200 and ok.json()["total"] == 20
    # the seed's alias is guarded the same way; health stays open like the probes
    assert client.get("/api/sensors").status_code == 401
    assert client.get("/health").status_code == 200 and client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"lifetime_s": -120}, "the token has expired"),  # beyond the 30 s leeway
        ({"aud": "another-api"}, "the token's audience (aud) is not this API"),
        ({"iss": "https://evil.example"}, "the token's issuer (iss) is not trusted"),
        ({"nbf": 4_000_000_000}, "the token is not valid yet (nbf or iat in the future)"),
        ({"sub": None}, "the token has no 'sub' claim"),
    ],
)
def test_bad_tokens_are_401_invalid_token(
    client: TestClient, issuer: TestIssuer, claims: dict[str, Any], expected: str
) -> None:
    token = issuer.token(scope="gridwatch:read", **claims)
    detail, challenge = refused(client.get("/api/v1/sensors", headers=bearer(token)), 401)
    assert detail == expected
    assert challenge == f'Bearer realm="gridwatch", error="invalid_token", error_description="{expected}"'


def test_forged_and_malformed_tokens_are_refused(client: TestClient, issuer: TestIssuer) -> None:
    stranger = SigningKey.generate("rsa-1", "rsa")  # the published kid, another key: the signature fails
    detail, _ = refused(client.get("/api/v1/sensors", headers=bearer(issuer.token(key=stranger))), 401)
    assert detail == "the token's signature is not valid"
    unknown = SigningKey.generate("nobody", "ec")
    detail, _ = refused(client.get("/api/v1/sensors", headers=bearer(issuer.token(key=unknown))), 401)
    assert detail == "the token's signing key (kid) is not one of the issuer's keys"
    detail, _ = refused(client.get("/api/v1/sensors", headers=bearer("not-a-jwt")), 401)
    assert detail == "the bearer token is not a well-formed JWT"
    hs = jwt.encode({"iss": issuer.url, "aud": issuer.audience, "sub": "x", "exp": 4_000_000_000}, "k" * 32, "HS256")
    detail, _ = refused(client.get("/api/v1/sensors", headers=bearer(hs)), 401)
    assert detail == "the token's algorithm is not one of ES256 RS256"


def test_missing_scope_is_403(client: TestClient, issuer: TestIssuer) -> None:
    detail, challenge = refused(client.get("/api/v1/sensors", headers=bearer(issuer.token(scope="openid"))), 403)
    assert detail == "the token lacks the scope or role gridwatch:read"
    assert 'error="insufficient_scope"' in challenge and 'scope="gridwatch:read"' in challenge
    # roles count as well as scopes (Keycloak's realm_access.roles, Entra's roles)
    keycloak = issuer.token(realm_access={"roles": ["gridwatch:read"]})
    assert client.get("/api/v1/sensors", headers=bearer(keycloak)).status_code == 200
    assert client.get("/api/v1/sensors", headers=bearer(issuer.token(roles=["gridwatch:read"]))).status_code == 200


def test_key_rotation_refetches_the_jwks_on_an_unknown_kid(client: TestClient, issuer: TestIssuer) -> None:
    assert client.get("/api/v1/sensors", headers=bearer(issuer.token(scope="gridwatch:read"))).status_code == 200
    assert issuer.discovery_requests == 1 and issuer.jwks_requests == 1
    assert client.get("/api/v1/sensors", headers=bearer(issuer.token(scope="gridwatch:read"))).status_code == 200
    assert issuer.jwks_requests == 1  # cached
    old = issuer.keys[0]
    issuer.keys = [SigningKey.generate("rsa-2", "rsa")]  # the issuer rotates
    fresh = issuer.token(scope="gridwatch:read")
    assert client.get("/api/v1/sensors", headers=bearer(fresh)).status_code == 200
    assert issuer.jwks_requests == 2
    stale = issuer.token(key=old, scope="gridwatch:read")
    detail, _ = refused(client.get("/api/v1/sensors", headers=bearer(stale)), 401)
    assert detail == "the token's signing key (kid) is not one of the issuer's keys"


def test_unknown_kids_cannot_flood_the_issuer(
    redis_server: Redis, postgres: Postgres, site: str, issuer: TestIssuer
) -> None:
    settings = make_settings(redis_server, postgres, site, issuer, auth_jwks_min_refresh_s=3600)
    with TestClient(create_app(settings)) as client:
        for n in range(5):
            token = issuer.token(key=SigningKey.generate(f"made-up-{n}", "ec"), scope="gridwatch:read")
            assert client.get("/api/v1/sensors", headers=bearer(token)).status_code == 401
    assert issuer.jwks_requests == 1


def test_an_unreachable_issuer_is_503_not_401(
    redis_server: Redis, postgres: Postgres, site: str, issuer: TestIssuer
) -> None:
    token = issuer.token(scope="gridwatch:read")
    issuer.up = False
    with TestClient(create_app(make_settings(redis_server, postgres, site, issuer))) as client:
        detail, _ = refused(client.get("/api/v1/sensors", headers=bearer(token)), 503)
        assert detail == "the identity provider is unavailable"
        issuer.up = True
        assert client.get("/api/v1/sensors", headers=bearer(token)).status_code == 200


def test_docs_need_a_token(client: TestClient, issuer: TestIssuer) -> None:
    for path in ("/docs", "/openapi.json"):
        refused(client.get(path), 401)
        assert client.get(path, headers=bearer(issuer.token(scope="gridwatch:read"))).status_code == 200
    schema = client.get("/openapi.json", headers=bearer(STATIC)).json()
    responses = schema["paths"]["/api/v1/sensors"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)


def test_websocket_takes_the_token_as_subprotocol_or_query(client: TestClient, issuer: TestIssuer) -> None:
    good = issuer.token(scope="gridwatch:read")
    with client.websocket_connect("/ws", subprotocols=["bearer", good]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert ws.receive_json()["type"] == "snapshot"
    with client.websocket_connect(f"/ws?access_token={good}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
    for path, protocols in [
        ("/ws", None),
        ("/ws", ["bearer", issuer.token(scope="gridwatch:read", lifetime_s=-600)]),
        (f"/ws?access_token={issuer.token(scope='openid')}", None),
    ]:
        with client.websocket_connect(path, subprotocols=protocols) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def seed_alert(postgres: Postgres, site: str) -> int:
    with connect(postgres.dsn, "test") as conn:
        migrate(conn)
        row = conn.execute(
            """INSERT INTO gw_alerts (site, fingerprint, rule, severity, state, message, first_seen, last_seen)
               VALUES (%s, 'fp-1', 'rule', 'critical', 'active', 'hot', now(), now()) RETURNING id""",
            (site,),
        ).fetchone()
        conn.commit()
    assert row is not None
    return int(row[0])


def test_writes_act_as_the_tokens_user(client: TestClient, issuer: TestIssuer, postgres: Postgres, site: str) -> None:
    alert = seed_alert(postgres, site)
    reader = issuer.token(scope="gridwatch:read")
    detail, challenge = refused(client.post(f"/api/v1/alerts/{alert}/ack", headers=bearer(reader)), 403)
    assert detail == "the token lacks the scope or role gridwatch:write" and 'scope="gridwatch:write"' in challenge
    writer = issuer.token("u-42", preferred_username="alice", scope="gridwatch:read gridwatch:write")
    acked = client.post(f"/api/v1/alerts/{alert}/ack", headers=bearer(writer), json={"by": "mallory"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "alice"  # from the token, not the request body
    no_name = issuer.token("u-43", scope="gridwatch:read gridwatch:write")
    cleared = client.post(f"/api/v1/alerts/{alert}/clear", headers=bearer(no_name), json={"by": "mallory"})
    assert cleared.status_code == 200 and cleared.json()["state"] == "cleared"
    with psycopg.connect(postgres.dsn) as conn:
        row = conn.execute("SELECT acknowledged_by, cleared_by FROM gw_alerts WHERE id = %s", (alert,)).fetchone()
        actors = conn.execute("SELECT actor FROM gw_alert_events WHERE alert_id = %s ORDER BY id", (alert,)).fetchall()
    assert row == ("alice", "u-43")  # sub when the token has no preferred_username
    assert [a for (a,) in actors][-2:] == ["alice", "u-43"]


def test_the_static_write_token_keeps_working(
    client: TestClient, issuer: TestIssuer, postgres: Postgres, site: str
) -> None:
    alert = seed_alert(postgres, site)
    assert client.get("/api/v1/sensors", headers=bearer(STATIC)).status_code == 200
    acked = client.post(f"/api/v1/alerts/{alert}/ack", headers=bearer(STATIC), json={"by": "mallory"})
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "api-token"
    refused(client.post(f"/api/v1/alerts/{alert}/clear"), 401)


def test_auth_off_keeps_the_request_actor(redis_server: Redis, postgres: Postgres, site: str) -> None:
    alert = seed_alert(postgres, site)
    settings = ApiSettings(site=site, redis_url=redis_server.url, postgres_dsn=postgres.dsn, token=STATIC)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/sensors").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        acked = client.post(f"/api/v1/alerts/{alert}/ack", headers=bearer(STATIC), json={"by": "ops-bot"})
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "ops-bot"
        assert client.post(f"/api/v1/alerts/{alert}/clear", headers=bearer("wrong")).status_code == 403


def test_an_issuer_needs_an_audience() -> None:
    with pytest.raises(ValidationError, match="GRIDWATCH_API_AUTH_AUDIENCE"):
        ApiSettings(auth_issuer="https://id.example")
