"""GET /api/site outside Kubernetes answers local mode; in a cluster it summarizes the EnergySite status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from gridwatch.api.routes import site
from gridwatch.api.settings import ApiSettings


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for var in ("GRIDWATCH_API_K8S_SITE_NAMESPACE", "GRIDWATCH_API_K8S_KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    app = FastAPI()
    app.state.settings = ApiSettings()
    app.include_router(site.router, prefix="/api")

    @app.middleware("http")
    async def settings_per_request(request: Request, call_next: Any) -> Any:
        request.app.state.settings = ApiSettings()  # the process reads its settings once; each test sets its env
        return await call_next(request)

    with TestClient(app) as test_client:
        yield test_client


def test_local_mode_outside_kubernetes(client: TestClient) -> None:
    response = client.get("/api/site")
    assert response.status_code == 200
    assert response.json() == {"mode": "local", "kubernetes": False, "message": "not running on Kubernetes"}


def test_a_namespace_alone_does_not_mean_kubernetes(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_API_K8S_SITE_NAMESPACE", "gw")
    assert client.get("/api/site").json()["mode"] == "local"


def test_unreachable_kubernetes_is_a_503(client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    monkeypatch.setenv("GRIDWATCH_API_K8S_SITE_NAMESPACE", "gw")
    monkeypatch.setenv("GRIDWATCH_API_K8S_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("GRIDWATCH_API_K8S_TIMEOUT_S", "1")
    response = client.get("/api/site")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Kubernetes API unavailable")


def test_site_status_has_a_typed_body() -> None:
    import msgspec
    from gridwatch.api.contract import SiteStatus

    assert msgspec.convert(site.summarize({"metadata": {"name": "x"}, "status": {"processors": "1/2"}}), SiteStatus)


def test_summary_of_an_energysite() -> None:
    obj = {
        "metadata": {"name": "plant-north", "namespace": "gw", "generation": 3},
        "spec": {"sensors": {"count": 500}, "processor": {"autoscaling": {"enabled": True}}},
        "status": {
            "observedGeneration": 3,
            "conditions": [{"type": "Ready", "status": "True", "reason": "AllComponentsReady"}],
            "components": {"processor": {"desired": 2, "ready": 2}},
            "processors": "2/2",
            "consumerLag": 12,
            "helm": {"revision": 4, "chartVersion": "0.1.0", "digest": "abc"},
        },
    }
    summary = site.summarize(obj)
    assert summary["mode"] == "kubernetes" and summary["kubernetes"] is True
    assert summary["ready"] is True
    assert summary["helm"] == {"revision": 4, "chartVersion": "0.1.0"}
    assert (summary["sensors"], summary["autoscaling"], summary["consumerLag"]) == (500, True, 12)
