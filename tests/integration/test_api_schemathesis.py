"""Schemathesis over the API's whole OpenAPI, served by a real `gridwatch api` on real Redis and PostgreSQL.

Every generated request must answer without a server error, with a documented status, content type and headers,
and a body that matches the published schema (problem+json for every error). Schema-valid requests may still be
refused with a documented 422 when they break a rule across parameters (from < to, a metric that needs a type),
which OpenAPI cannot express: that one check is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.infra.services import Postgres, Redis
from tests.utils.site_state import seed_site
from tests.utils.workloads import Workload, free_port, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(redis_server: Redis, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workload]:
    site = "fuzz"
    client = redis.Redis.from_url(redis_server.url)
    seed_site(client, site, 120)
    client.close()
    port = free_port()
    env = {
        "GRIDWATCH_SITE": site,
        "GRIDWATCH_REDIS_URL": redis_server.url,
        "GRIDWATCH_POSTGRES_DSN": postgres.dsn,
        "GRIDWATCH_API_PORT": str(port),
        "GRIDWATCH_METRICS_PORT": str(free_port()),
        "GRIDWATCH_API_TOKEN": "fuzz-token",
        "GRIDWATCH_API_RATE_LIMIT_RPS": "0",
        "GRIDWATCH_OPT_CACHE_S": "60",
    }
    api = Workload("api", env, tmp_path_factory.mktemp("fuzz")).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90, "API ready", logs=(api,))
        # the schema migrations run in the background: wait until PostgreSQL-backed routes answer
        wait_for(lambda: httpx.get(f"{base}/api/v1/alerts").status_code == 200, 60, "migrations", logs=(api,))
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def api_url(api: Workload) -> str:
    return f"http://127.0.0.1:{api.env['GRIDWATCH_API_PORT']}"


def test_api_conforms_to_its_schema(api_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]  # Err raises: a broken schema
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=api_url, excluded_checks=[positive_data_acceptance])

        try:
            exercise()
        except Exception as exc:  # collect every operation's first failure, not only the first operation's
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_fuzzed_server_logged_no_unhandled_error(api: Workload, api_url: str) -> None:
    text = api.log()
    assert "Application startup complete" in text
    assert "unhandled error" not in text and "Traceback" not in text
