"""EnergySite spec -> Helm values: complete, valid against the chart's schema, every spec field used."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from gridwatch_operator.values import desired_replicas, helm_values, mqtt_broker, processor_replicas, split_image
from jsonschema import Draft7Validator

from tests.unit.operator.test_crd import REPO, defaulted_spec, leaves, load_sample, spec_schema

SCHEMA = json.loads((REPO / "charts" / "energy-site" / "values.schema.json").read_text())
IMAGE = "ghcr.io/gridwatch/gridwatch:1.2.3"
# Fields the operator acts on itself instead of passing them to the chart.
OPERATOR_FIELDS = {
    ("paused",),
    ("kafka", "manageTopics"),
    ("processor", "autoscaling", "enabled"),
    ("processor", "autoscaling", "lagPerReplica"),
    ("processor", "autoscaling", "lagUnit"),
    ("processor", "autoscaling", "cooldownSeconds"),
    ("processor", "autoscaling", "minReplicas"),
    ("processor", "autoscaling", "maxReplicas"),
    # engine KEDA's fields reach the values only with engine KEDA on a cluster serving KEDA (test_keda.py)
    ("processor", "autoscaling", "engine"),
    ("processor", "autoscaling", "readingsPerMessage"),
    ("processor", "autoscaling", "activationLag"),
    # rollout control (rollout.py): when the release moves to a new chart, not what it renders
    ("upgrade", "policy"),
    ("upgrade", "chartVersion"),
    ("upgrade", "maintenanceWindows"),
}


def values_for(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return helm_values("plant-north", defaulted_spec(spec), status or {}, default_image=IMAGE)


def schema_errors(values: dict[str, Any]) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in Draft7Validator(SCHEMA).iter_errors(values)]


def test_sample_maps_to_values_the_chart_accepts() -> None:
    values = values_for(load_sample()["spec"])
    assert schema_errors(values) == []
    assert values["site"] == "plant-north"
    assert values["sensors"]["count"] == 500
    assert values["processor"] == {"replicas": 2, "forest": "auto"}
    assert values["api"]["replicas"] == 2
    assert values["analytics"]["battery"]["socMin"] == 0.15
    assert values["alerts"]["rules"][0]["severity"] == "critical"
    assert values["image"] == {
        "repository": "ghcr.io/gridwatch/gridwatch",
        "tag": "1.2.3",
        "digest": "",
        "pullPolicy": "IfNotPresent",
    }


def test_empty_spec_maps_to_valid_values() -> None:
    assert schema_errors(values_for({})) == []


def test_secrets_are_references_never_values() -> None:
    spec = {
        "redis": {"username": "gridwatch-app", "passwordSecretRef": {"name": "redis-auth"}},
        "history": {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "pg-auth", "key": "pw"}},
        "alerts": {"routes": [{"name": "on-call", "webhookSecretRef": {"name": "hooks"}}]},
    }
    values = values_for(spec)
    assert schema_errors(values) == []
    assert values["redis"]["passwordSecret"] == {"name": "redis-auth", "key": "password"}
    assert values["redis"]["username"] == "gridwatch-app"
    assert values["history"]["passwordSecret"] == {"name": "pg-auth", "key": "pw"}
    assert values["alerts"]["routes"] == [
        {"name": "on-call", "minSeverity": "warning", "webhookSecret": {"name": "hooks", "key": "url"}}
    ]
    assert values_for({})["redis"]["passwordSecret"] == {"name": "", "key": "password"}


def test_postgres_roles_are_per_workload_secret_references() -> None:
    roles = {
        "api": {"user": "gw_api", "passwordSecretRef": {"name": "pg-api"}},
        "history": {"user": "gw_history", "passwordSecretRef": {"name": "pg-history", "key": "pw"}},
    }
    values = values_for({"history": {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "pg-owner"},
                                     "roles": roles}})  # fmt: skip
    assert schema_errors(values) == []
    assert values["history"]["roles"] == {
        "api": {"user": "gw_api", "passwordSecret": {"name": "pg-api", "key": "password"}},
        "history": {"user": "gw_history", "passwordSecret": {"name": "pg-history", "key": "pw"}},
    }
    assert values_for({})["history"]["roles"] == {}


def test_kafka_tls_and_sasl_are_secret_references() -> None:
    spec = {
        "kafka": {
            "bootstrapServers": "kafka-bootstrap.kafka.svc:9093",
            "tls": {"enabled": True, "caSecretRef": {"name": "cluster-ca"}, "clientCertSecretRef": {"name": "me"}},
            "sasl": {"mechanism": "SCRAM-SHA-256", "username": "plant-north", "passwordSecretRef": {"name": "pn"}},
        }
    }
    values = values_for(spec)
    assert schema_errors(values) == []
    assert values["kafka"]["tls"] == {
        "enabled": True,
        "caSecret": {"name": "cluster-ca", "key": "ca.crt"},
        "clientSecret": {"name": "me"},
        "verifyHostname": True,
    }
    assert values["kafka"]["sasl"] == {
        "enabled": True,
        "mechanism": "SCRAM-SHA-256",
        "username": "plant-north",
        "passwordSecret": {"name": "pn", "key": "password"},
    }
    plain = values_for({})["kafka"]
    assert plain["tls"]["enabled"] is False and plain["sasl"]["enabled"] is False


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("gridwatch", ("gridwatch", "", "")),
        ("gridwatch:dev", ("gridwatch", "dev", "")),
        ("localhost:5000/gridwatch", ("localhost:5000/gridwatch", "", "")),
        ("localhost:5000/gridwatch:tilt-abc", ("localhost:5000/gridwatch", "tilt-abc", "")),
        ("ghcr.io/g/w@sha256:" + "a" * 64, ("ghcr.io/g/w", "", "sha256:" + "a" * 64)),
    ],
)
def test_split_image(image: str, expected: tuple[str, str, str]) -> None:
    parts = split_image(image)
    assert (parts["repository"], parts["tag"], parts["digest"]) == expected


def test_spec_image_overrides_the_operator_default() -> None:
    assert values_for({"image": "kind.local/gridwatch:tilt-1"})["image"]["tag"] == "tilt-1"


def test_autoscaled_processors_follow_the_autoscaler_within_bounds() -> None:
    auto = {"processor": {"replicas": 1, "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4}}}
    spec = defaulted_spec(auto)
    assert processor_replicas(spec, {}) == 2  # nothing decided yet: minReplicas
    assert processor_replicas(spec, {"scaling": {"replicas": 3}}) == 3
    assert processor_replicas(spec, {"scaling": {"replicas": 9}}) == 4  # bounds lowered since
    assert processor_replicas(defaulted_spec({"processor": {"replicas": 3}}), {"scaling": {"replicas": 1}}) == 3


def test_autoscaled_processors_render_no_replicas() -> None:
    auto = {"processor": {"replicas": 3, "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4}}}
    values = values_for(auto, {"scaling": {"replicas": 4}})
    assert values["processor"] == {
        "autoscaled": True,
        "forest": "auto",
    }  # the same values whatever the autoscaler chose
    assert values_for(auto, {"scaling": {"replicas": 2}}) == values
    assert desired_replicas(values)["processor"] is None


def test_desired_replicas_leave_the_api_to_its_hpa() -> None:
    assert desired_replicas(values_for({})) == {"simulator": 1, "processor": 1, "api": 2}
    hpa = values_for({"api": {"autoscaling": {"enabled": True}}, "simulator": {"enabled": False}})
    assert desired_replicas(hpa) == {"processor": 1, "api": None}
    history = values_for({"history": {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "pg"}}})
    assert desired_replicas(history) == {"simulator": 1, "processor": 1, "history": 1, "alerts": 1, "api": 2}


def _alternative(schema: dict[str, Any], current: Any) -> Any:
    """Another valid value for a field."""
    if "enum" in schema:
        return next(v for v in schema["enum"] if v != current)
    kind = schema["type"]
    if kind == "boolean":
        return not current
    if kind == "integer":
        return current + 1 if current + 1 <= schema.get("maximum", current + 1) else current - 1
    if kind == "number":
        return round(current + 0.01, 4) if current + 0.01 <= schema.get("maximum", current + 1) else current - 0.01
    if kind == "array" and schema["items"].get("type") == "object":  # one item more or less
        props = schema["items"]["properties"]
        item = {k: v.get("default", "x" if v["type"] == "string" else v.get("maximum")) for k, v in props.items()}
        return current[:-1] if current else [item]
    if kind == "array" and schema["items"].get("type") == "string":
        return current[:-1] if len(current) > 1 else [*current, "power"]
    if kind == "string":
        return current + "x" if current else "changed"
    raise AssertionError(f"no alternative for {schema}")


def _set(spec: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def test_every_spec_field_reaches_the_values_or_the_operator() -> None:
    base = defaulted_spec({"history": {"enabled": True, "host": "pg", "passwordSecretRef": {"name": "pg"}}})
    base["redis"]["passwordSecretRef"] = {"name": "r", "key": "password"}
    base["history"]["roles"] = {
        c: {"user": f"gw_{c}", "passwordSecretRef": {"name": f"pg-{c}", "key": "password"}}
        for c in ("history", "alerts", "api", "trainer", "forecaster", "processor", "storage", "rebalancer", "ingest")
    }
    base["ingest"]["tokenSecretRef"] = {"name": "t", "key": "tokens"}
    base["ingest"]["mqtt"]["passwordSecretRef"] = {"name": "m", "key": "password"}
    base["ingest"]["mqtt"]["brokerURL"] = "mqtts://broker"
    base["ingest"]["mqtt"]["tls"] = {
        "caSecretRef": {"name": "ca", "key": "ca.crt"},
        "clientCertSecretRef": {"name": "c"},
    }
    base["ingest"]["grid"]["tokenSecretRef"] = {"name": "g", "key": "token"}
    base["api"]["ingress"]["hosts"] = ["north.example.com"]  # tlsSecretName covers the hosts listed
    base["kafka"]["tls"] = {
        "enabled": True,
        "caSecretRef": {"name": "kca", "key": "ca.crt"},
        "clientCertSecretRef": {"name": "kc"},
        "verifyHostname": True,
    }
    base["kafka"]["sasl"] = {
        "mechanism": "SCRAM-SHA-512",
        "username": "u",
        "passwordSecretRef": {"name": "k", "key": "password"},
    }
    base["alerts"] = {
        "rules": [{"name": "r1", "sensorType": "any", "probabilityAbove": 0.5, "forSeconds": 0, "severity": "warning"}],
        "routes": [{"name": "o", "minSeverity": "warning", "webhookSecretRef": {"name": "h", "key": "url"}}],
    }
    reference = helm_values("s", base, {}, default_image=IMAGE)
    unused: list[str] = []
    for path, field in leaves(spec_schema()):
        if path in OPERATOR_FIELDS or path[0] == "alerts" or field.get("type") == "object":
            continue
        node: Any = base
        for key in path:
            node = node[key]
        changed = copy.deepcopy(base)
        _set(changed, path, _alternative(field, node))
        if helm_values("s", changed, {}, default_image=IMAGE) == reference:
            unused.append(".".join(path))
    assert unused == []


def test_operator_wide_site_values_merge_over_the_spec() -> None:
    from gridwatch_operator.settings import GridwatchOperatorSettings
    from gridwatch_operator.values import merge

    settings = GridwatchOperatorSettings(
        site_values={"dev": {"reload": True}, "processor": {"resources": {"limits": {"cpu": "4"}}}}
    )
    values = merge(values_for({"processor": {"replicas": 3}}), settings.site_values)
    assert values["dev"] == {"reload": True}
    assert values["processor"] == {"replicas": 3, "forest": "auto", "resources": {"limits": {"cpu": "4"}}}
    assert schema_errors(values) == []


def test_site_values_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridwatch_operator.settings import GridwatchOperatorSettings

    monkeypatch.setenv("GRIDWATCH_OPERATOR_SITE_VALUES", '{"logLevel": "DEBUG"}')
    monkeypatch.setenv("GRIDWATCH_OPERATOR_NAMESPACES", "north, south")
    settings = GridwatchOperatorSettings()
    assert settings.site_values == {"logLevel": "DEBUG"}
    assert settings.namespaces == ["north", "south"]


def test_ingest_maps_broker_url_secrets_and_grid_sources() -> None:
    spec = {
        "ingest": {
            "enabled": True,
            "tokenSecretRef": {"name": "gateways"},
            "mqtt": {
                "enabled": True,
                "brokerURL": "mqtts://broker.mqtt.svc",
                "username": "gw",
                "passwordSecretRef": {"name": "mqtt", "key": "pw"},
                "tls": {"caSecretRef": {"name": "mqtt-ca"}, "clientCertSecretRef": {"name": "mqtt-client"}},
            },
            "grid": {
                "enabled": True,
                "sources": [
                    {"name": "carbon", "adapter": "gb-carbon-intensity", "url": "https://api.carbonintensity.org.uk"},
                    {
                        "name": "de",
                        "adapter": "entsoe",
                        "url": "https://web-api.tp.entsoe.eu",
                        "region": "10Y1001A1001A82H",
                        "tokenSecretRef": {"name": "entsoe"},
                    },
                ],
            },
        }
    }
    values = values_for(spec)
    assert schema_errors(values) == []
    ingest, grid = values["ingest"], values["grid"]
    assert ingest["tokenSecret"] == {"name": "gateways", "key": "tokens"}
    mqtt = ingest["mqtt"]
    assert (mqtt["host"], mqtt["port"], mqtt["tls"]["enabled"]) == ("broker.mqtt.svc", 8883, True)
    assert mqtt["passwordSecret"] == {"name": "mqtt", "key": "pw"}
    assert mqtt["tls"]["caSecret"] == {"name": "mqtt-ca", "key": "ca.crt"}
    assert mqtt["tls"]["clientSecret"] == {"name": "mqtt-client"}
    assert [s["name"] for s in grid["sources"]] == ["carbon", "de"]
    assert grid["sources"][1]["tokenSecret"] == {"name": "entsoe", "key": "token"}
    assert "tokenSecret" not in grid["sources"][0]
    assert desired_replicas(values) == {"simulator": 1, "processor": 1, "ingest": 1, "grid": 1, "api": 2}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://mosquitto", ("mosquitto", 1883, False)),
        ("mqtt://10.0.0.5:1884", ("10.0.0.5", 1884, False)),
        ("mqtts://broker.example.com:9883/", ("broker.example.com", 9883, True)),
    ],
)
def test_mqtt_broker_url(url: str, expected: tuple[str, int, bool]) -> None:
    broker = mqtt_broker(url)
    assert (broker["host"], broker["port"], broker["tls"]) == expected


def test_ingress_and_http_route_reach_the_chart_values() -> None:
    spec = {
        "api": {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": ["north.example.com", "north.plant.example"],
                "tlsSecretName": "north-tls",
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            },
            "httpRoute": {
                "enabled": True,
                "parentRefs": [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}],
                "hostnames": ["north.example.com"],
                "requestTimeout": "60s",
            },
        }
    }
    values = values_for(spec)
    assert schema_errors(values) == []
    assert values["api"]["ingress"] == {
        "enabled": True,
        "className": "nginx",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},  # added to the chart's nginx timeouts
        "hosts": [{"host": "north.example.com"}, {"host": "north.plant.example"}],
        "tls": [{"secretName": "north-tls", "hosts": ["north.example.com", "north.plant.example"]}],
    }
    assert values["api"]["httpRoute"] == {
        "enabled": True,
        "parentRefs": [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}],
        "hostnames": ["north.example.com"],
        "timeouts": {"request": "60s", "backendRequest": ""},
        "webSocketTimeout": "0s",
    }
    plain = values_for({})["api"]
    assert plain["ingress"]["enabled"] is False and plain["ingress"]["tls"] == []
    assert plain["httpRoute"]["enabled"] is False


def test_a_route_without_a_gateway_is_refused_by_the_crd_and_the_chart() -> None:
    """The CRD's CEL rule runs on the API server (e2e); the chart schema refuses the same values here."""
    values = values_for({"api": {"httpRoute": {"enabled": True}}})
    assert any("httpRoute" in e for e in schema_errors(values))
