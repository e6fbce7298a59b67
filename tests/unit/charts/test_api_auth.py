"""spec.api.auth reaches the API pods: the operator's values, rendered by the real chart, parsed by ApiSettings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from gridwatch.api.settings import ApiSettings
from gridwatch_operator.values import helm_values

from tests.unit.charts.test_ingest import _env, _from_env, _objects, needs_helm
from tests.unit.operator.fakes import site_spec


def api_settings(tmp_path: Path, spec: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> ApiSettings:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(helm_values("plant-north", spec, {}, default_image="img:1", namespace="gw")))
    objects = _objects(values)
    [container] = objects[("Deployment", "plant-north-api")]["spec"]["template"]["spec"]["containers"]
    config = objects[("ConfigMap", "plant-north-config")]["data"]
    _from_env(monkeypatch, {k: str(v) for k, v in {**config, **_env(container, {})}.items()})
    return ApiSettings()


@needs_helm
def test_auth_is_off_unless_the_site_names_an_issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = api_settings(tmp_path, site_spec(), monkeypatch)
    assert settings.auth_issuer == "" and settings.site == "gw.plant-north"


@needs_helm
def test_spec_api_auth_becomes_the_api_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = {
        "issuer": "https://id.example/realms/gw",
        "audience": "gridwatch",
        "readScopes": ["gridwatch:read", "viewer"],
        "writeScopes": ["gridwatch:write"],
        "protectDocs": False,
    }
    settings = api_settings(tmp_path, site_spec(api={"auth": auth}), monkeypatch)
    assert (settings.auth_issuer, settings.auth_audience, settings.auth_jwks_url) == (auth["issuer"], "gridwatch", "")
    assert settings.auth_read_scopes.split() == ["gridwatch:read", "viewer"]
    assert settings.auth_write_scopes == "gridwatch:write" and settings.auth_protect_docs is False
