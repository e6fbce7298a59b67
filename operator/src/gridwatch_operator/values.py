"""EnergySite spec -> Helm values of charts/energy-site (a pure mapping)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from gridwatch_operator import keda
from gridwatch_operator.autoscaler import Policy
from gridwatch_operator.spec import SiteSpec

JSON = dict[str, Any]


def split_image(image: str) -> JSON:
    """`repo[:tag][@sha256:...]` -> the chart's image values (a port in the registry host is not a tag)."""
    repository, _, digest = image.partition("@")
    tag = ""
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = repository.rsplit(":", 1)
    return {"repository": repository, "tag": tag, "digest": digest}


def _secret(ref: Mapping[str, Any] | None, default_key: str) -> JSON:
    if not ref:
        return {"name": "", "key": default_key}
    return {"name": str(ref["name"]), "key": str(ref.get("key") or default_key)}


def kafka_security_values(kafka: Mapping[str, Any]) -> JSON:
    """spec.kafka.tls / spec.kafka.sasl as the chart's kafka.tls / kafka.sasl (Secret references only)."""
    tls = kafka.get("tls") or {}
    sasl = kafka.get("sasl") or {}
    return {
        "tls": {
            "enabled": bool(tls.get("enabled", False)),
            "caSecret": _secret(tls.get("caSecretRef"), "ca.crt"),
            "clientSecret": {"name": str((tls.get("clientCertSecretRef") or {}).get("name", ""))},
            "verifyHostname": bool(tls.get("verifyHostname", True)),
        },
        "sasl": {
            "enabled": bool(sasl),
            "mechanism": str(sasl.get("mechanism", "SCRAM-SHA-512")),
            "username": str(sasl.get("username", "")),
            "passwordSecret": _secret(sasl.get("passwordSecretRef"), "password"),
        },
    }


def _get(spec: Mapping[str, Any], *path: str) -> Any:
    node: Any = spec
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def mqtt_broker(url: str) -> JSON:
    """`mqtt://host[:port]` or `mqtts://host[:port]` -> the chart's broker host, port and TLS switch."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return {"host": parts.hostname or "", "port": parts.port or (8883 if tls else 1883), "tls": tls}


def ingest_values(ingest: Mapping[str, Any]) -> JSON:
    """spec.ingest -> the chart's `ingest` and `grid` values (Secret references only, never their contents)."""
    http = ingest.get("http") or {}
    mqtt = ingest.get("mqtt") or {}
    tls = mqtt.get("tls") or {}
    grid = ingest.get("grid") or {}
    broker = mqtt_broker(str(mqtt.get("brokerURL", "")))
    client = tls.get("clientCertSecretRef") or {}
    sources = []
    for source in grid.get("sources") or []:
        out: JSON = {
            "name": str(source["name"]),
            "adapter": str(source["adapter"]),
            "url": str(source["url"]),
            "intervalSeconds": float(source.get("intervalSeconds", 900)),
            "region": str(source.get("region", "GB")),
        }
        if source.get("documentTypes"):
            out["documentTypes"] = [str(d) for d in source["documentTypes"]]
        if source.get("tokenSecretRef"):
            out["tokenSecret"] = _secret(source["tokenSecretRef"], "token")
        sources.append(out)
    return {
        "ingest": {
            "enabled": bool(ingest.get("enabled", False)),
            "replicas": int(ingest.get("replicas", 1)),
            "http": {
                "enabled": bool(http.get("enabled", True)),
                "maxBodyBytes": int(http.get("maxBodyBytes", 8 * 1024 * 1024)),
            },
            "tokenSecret": _secret(ingest.get("tokenSecretRef"), "tokens"),
            "mqtt": {
                "enabled": bool(mqtt.get("enabled", False)),
                "host": broker["host"] or "mosquitto",
                "port": broker["port"],
                "username": str(mqtt.get("username", "")),
                "passwordSecret": _secret(mqtt.get("passwordSecretRef"), "password"),
                "tls": {
                    "enabled": broker["tls"],
                    "caSecret": _secret(tls.get("caSecretRef"), "ca.crt"),
                    "clientSecret": {"name": str(client.get("name", ""))},
                },
            },
        },
        "grid": {
            "enabled": bool(grid.get("enabled", False)),
            "autostart": bool(grid.get("autostart", True)),
            "tokenSecret": _secret(grid.get("tokenSecretRef"), "token"),
            "sources": sources,
        },
    }


def processor_replicas(spec: Mapping[str, Any], status: Mapping[str, Any]) -> int:
    """Processor replicas in effect: the autoscaler's choice (within bounds), else spec.processor.replicas."""
    auto = _get(spec, "processor", "autoscaling") or {}
    if auto.get("enabled"):
        policy = Policy.from_spec(auto)
        low, high = policy.min_replicas, policy.max_replicas
        chosen = _get(status, "scaling", "replicas")
        replicas = int(chosen) if isinstance(chosen, int) else low
        return max(low, min(high, replicas))
    return int(_get(spec, "processor", "replicas") or 1)


def keda_engine(spec: Mapping[str, Any]) -> bool:
    """spec.processor.autoscaling enabled with engine KEDA: a KEDA ScaledObject owns the processors' replicas."""
    auto = _get(spec, "processor", "autoscaling") or {}
    return bool(auto.get("enabled")) and auto.get("engine") == keda.KEDA


def autoscaled(spec: Mapping[str, Any]) -> bool:
    """spec.processor.autoscaling.enabled with engine Operator: the operator owns the processors' replicas (scale
    subresource). With engine KEDA it does not: KEDA's HPA does, and the operator must not fight it."""
    return bool((_get(spec, "processor", "autoscaling") or {}).get("enabled")) and not keda_engine(spec)


def processor_values(spec: Mapping[str, Any], status: Mapping[str, Any], *, keda_available: bool = False) -> JSON:
    """The chart's processor block: fixed replicas, or `autoscaled` (the chart then renders no spec.replicas and
    the operator scales the Deployment through its scale subresource, so scaling makes no Helm revision), or with
    engine KEDA a `keda` block (a ScaledObject, no spec.replicas). Engine KEDA on a cluster without KEDA's CRDs:
    fixed at minReplicas (the KEDAScaling condition says why)."""
    if keda_engine(spec):
        policy = Policy.from_spec(_get(spec, "processor", "autoscaling") or {})
        if keda_available:
            return {"autoscaled": False, "keda": keda.chart_values(policy)}
        return {"replicas": policy.min_replicas}
    if autoscaled(spec):
        return {"autoscaled": True}
    return {"replicas": processor_replicas(spec, status)}


def helm_values(
    name: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    default_image: str,
    pull_policy: str = "IfNotPresent",
    namespace: str = "",
    keda_available: bool = False,
) -> JSON:
    """Values for the site's release. Absent spec fields fall back to the CRD's defaults (the API
    server applies those, so they are only absent in unit tests and hand-written specs). `keda_available`: the
    cluster serves scaledobjects.keda.sh (only read for engine KEDA)."""
    sensors = spec.get("sensors") or {}
    simulator = spec.get("simulator") or {}
    api = spec.get("api") or {}
    api_auto = api.get("autoscaling") or {}
    parsed = SiteSpec.parse(name, spec, namespace, status)
    kafka = parsed.kafka
    redis = spec.get("redis") or {}
    history = spec.get("history") or {}
    analytics = spec.get("analytics") or {}
    anomaly = analytics.get("anomaly") or {}
    battery = analytics.get("battery") or {}
    tariff = analytics.get("tariff") or {}
    alerts = spec.get("alerts") or {}
    storage = spec.get("storage") or {}
    forecaster = spec.get("forecaster") or {}
    trainer = spec.get("trainer") or {}

    image = split_image(str(spec.get("image") or default_image))
    image["pullPolicy"] = pull_policy
    return {
        **ingest_values(spec.get("ingest") or {}),
        "site": name,
        "siteId": parsed.site_id,
        "image": image,
        "kafka": {
            "bootstrapServers": kafka.bootstrap_servers,
            "partitions": kafka.partitions,
            "replicationFactor": kafka.replication_factor,
            "topicPrefix": kafka.prefix_override,
            **kafka_security_values(spec.get("kafka") or {}),
        },
        "redis": {
            "host": str(redis.get("host", "redis")),
            "port": int(redis.get("port", 6379)),
            "db": int(redis.get("db", 0)),
            "tls": bool(redis.get("tls", False)),
            "username": str(redis.get("username", "")),
            "passwordSecret": _secret(redis.get("passwordSecretRef"), "password"),
        },
        "history": {
            "enabled": bool(history.get("enabled", False)),
            "host": str(history.get("host", "")),
            "port": int(history.get("port", 5432)),
            "database": str(history.get("database", "gridwatch")),
            "user": str(history.get("user", "gridwatch")),
            "sslMode": str(history.get("sslMode", "prefer")),
            "passwordSecret": _secret(history.get("passwordSecretRef"), "password"),
            "roles": {
                str(component): {
                    "user": str(role["user"]),
                    "passwordSecret": _secret(role.get("passwordSecretRef"), "password"),
                }
                for component, role in sorted((history.get("roles") or {}).items())
            },
        },
        "sensors": {
            "count": int(sensors.get("count", 300)),
            "sampleIntervalMs": int(sensors.get("sampleIntervalMs", 1000)),
            "anomalyRate": float(sensors.get("anomalyRate", 0.02)),
            "mix": list(sensors.get("mix") or ["power", "current", "voltage", "temperature", "pressure", "vibration"]),
            "seed": int(sensors.get("seed", 42)),
        },
        "timezone": str(spec.get("timezone", "UTC")),
        "forecaster": {
            "enabled": bool(forecaster.get("enabled", False)),
            "stepMinutes": int(forecaster.get("stepMinutes", 15)),
            "historyDays": int(forecaster.get("historyDays", 21)),
            "machines": bool(forecaster.get("machines", True)),
        },
        "trainer": trainer_values(trainer, timezone=str(spec.get("timezone", "UTC"))),
        "storage": {"enabled": bool(storage.get("enabled", False))},
        "rebalancer": {
            "dryRun": bool(storage.get("dryRun", False)),
            "rampKWPerSecond": float(storage.get("rampKWPerSecond", 10)),
            "socGuard": float(storage.get("socGuard", 0.02)),
        },
        "analytics": {
            "anomaly": {
                "zScreen": float(anomaly.get("zScreen", 3.0)),
                "zAnomaly": float(anomaly.get("zAnomaly", 4.5)),
                "warningProbability": float(anomaly.get("warningProbability", 0.3)),
                "criticalProbability": float(anomaly.get("criticalProbability", 0.8)),
            },
            "forecastHorizonMinutes": int(analytics.get("forecastHorizonMinutes", 1440)),
            "battery": {
                "capacityKWh": float(battery.get("capacityKWh", 500)),
                "powerKW": float(battery.get("powerKW", 250)),
                "efficiency": float(battery.get("efficiency", 0.9)),
                "socMin": float(battery.get("socMin", 0.1)),
                "socMax": float(battery.get("socMax", 0.9)),
                "socTarget": float(battery.get("socTarget", 0.5)),
            },
            "demandChargePerKW": float(analytics.get("demandChargePerKW", 0)),
            "gridImportMaxKW": float(analytics.get("gridImportMaxKW", 0)),
            "flexibleLoads": [dict(f) for f in analytics.get("flexibleLoads") or []],
            "tariff": {
                "currency": str(tariff.get("currency", "EUR")),
                "peakPricePerKWh": float(tariff.get("peakPricePerKWh", 0.32)),
                "offPeakPricePerKWh": float(tariff.get("offPeakPricePerKWh", 0.18)),
                "exportPricePerKWh": float(tariff.get("exportPricePerKWh", 0.07)),
                "peakStartHour": int(tariff.get("peakStartHour", 17)),
                "peakEndHour": int(tariff.get("peakEndHour", 21)),
                "dayAheadAdderPerKWh": float(tariff.get("dayAheadAdderPerKWh", 0)),
                "carbonWeightPerKg": float(tariff.get("carbonWeightPerKg", 0)),
            },
        },
        "alerts": {
            "rules": [
                {
                    "name": str(rule["name"]),
                    "sensorType": str(rule.get("sensorType", "any")),
                    "probabilityAbove": float(rule["probabilityAbove"]),
                    "forSeconds": int(rule.get("forSeconds", 0)),
                    "severity": str(rule.get("severity", "warning")),
                }
                for rule in alerts.get("rules") or []
            ],
            "routes": [
                {
                    "name": str(route["name"]),
                    "minSeverity": str(route.get("minSeverity", "warning")),
                    "webhookSecret": _secret(route.get("webhookSecretRef"), "url"),
                }
                for route in alerts.get("routes") or []
            ],
        },
        "simulator": {
            "enabled": bool(simulator.get("enabled", True)),
            "replicas": int(simulator.get("replicas", 1)),
        },
        "processor": {
            **processor_values(spec, status, keda_available=keda_available),
            # auto: the registry's promoted forest when PostgreSQL is there; never one fitted per replica
            "forest": "auto" if anomaly.get("trainedDetector", True) else False,
        },
        "api": {
            "replicas": int(api.get("replicas", 2)),
            "autoscaling": {
                "enabled": bool(api_auto.get("enabled", False)),
                "minReplicas": int(api_auto.get("minReplicas", 2)),
                "maxReplicas": int(api_auto.get("maxReplicas", 6)),
                "targetCPUUtilizationPercentage": int(api_auto.get("targetCPUUtilizationPercentage", 70)),
            },
            "auth": auth_values(api.get("auth") or {}),
            **route_values(api),
        },
    }


def route_values(api: Mapping[str, Any]) -> JSON:
    """spec.api.ingress / spec.api.httpRoute as the chart's api.ingress / api.httpRoute (each host's root, where
    the UI is served); Ingress annotations add to the chart's, which keep ingress-nginx from closing WebSockets."""
    ingress = api.get("ingress") or {}
    route = api.get("httpRoute") or {}
    hosts = [str(h) for h in ingress.get("hosts") or []]
    secret = str(ingress.get("tlsSecretName", ""))
    return {
        "ingress": {
            "enabled": bool(ingress.get("enabled", False)),
            "className": str(ingress.get("className", "")),
            "annotations": {str(k): str(v) for k, v in (ingress.get("annotations") or {}).items()},
            "hosts": [{"host": h} for h in hosts],
            "tls": [{"secretName": secret, "hosts": hosts}] if secret and hosts else [],
        },
        "httpRoute": {
            "enabled": bool(route.get("enabled", False)),
            "parentRefs": [
                {str(k): v for k, v in ref.items() if k in ("name", "namespace", "sectionName", "port")}
                for ref in route.get("parentRefs") or []
            ],
            "hostnames": [str(h) for h in route.get("hostnames") or []],
            "timeouts": {"request": str(route.get("requestTimeout", "")), "backendRequest": ""},
            "webSocketTimeout": str(route.get("webSocketTimeout", "0s")),
        },
    }


def trainer_values(trainer: Mapping[str, Any], *, timezone: str) -> JSON:
    """spec.trainer as the chart's trainer values; the schedule runs in the site's time zone (spec.timezone)."""
    return {
        "enabled": bool(trainer.get("enabled", True)),
        "schedule": str(trainer.get("schedule", "17 3 * * *")),
        "timeZone": timezone,
        "model": str(trainer.get("model", "all")),
        "promoteMargin": float(trainer.get("promoteMargin", 0.02)),
        "autoPromote": bool(trainer.get("autoPromote", True)),
        "detectorHours": float(trainer.get("detectorHours", 24)),
    }


def auth_values(auth: Mapping[str, Any]) -> JSON:
    """spec.api.auth as the chart's api.auth values (OIDC for reads, /ws and /docs; off while issuer is empty)."""
    return {
        "issuer": str(auth.get("issuer", "")),
        "audience": str(auth.get("audience", "")),
        "jwksUrl": str(auth.get("jwksUrl", "")),
        "readScopes": [str(s) for s in auth.get("readScopes") or []],
        "writeScopes": [str(s) for s in auth.get("writeScopes", ["gridwatch:write"])],
        "protectDocs": bool(auth.get("protectDocs", True)),
    }


def desired_replicas(values: Mapping[str, Any]) -> dict[str, int | None]:
    """Replicas each component's Deployment should have (None: left to the API's HPA, the lag autoscaler or KEDA)."""
    out: dict[str, int | None] = {}
    if values["simulator"]["enabled"]:
        out["simulator"] = int(values["simulator"]["replicas"])
    processor = values["processor"]
    owned = processor.get("autoscaled") or (processor.get("keda") or {}).get("enabled")
    out["processor"] = None if owned else int(processor["replicas"])
    if values["history"]["enabled"]:
        out["history"] = int(values["history"].get("replicas", 1))
        out["alerts"] = int(values["alerts"].get("replicas", 1))
    if values.get("ingest", {}).get("enabled"):
        out["ingest"] = int(values["ingest"]["replicas"])
    if values.get("grid", {}).get("enabled"):
        out["grid"] = 1
    out["api"] = None if values["api"]["autoscaling"]["enabled"] else int(values["api"]["replicas"])
    return out


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> JSON:
    """`overlay` over `base`, maps merged key by key (like helm coalescing a values file)."""
    out = dict(base)
    for key, value in overlay.items():
        current = out.get(key)
        out[key] = merge(current, value) if isinstance(value, Mapping) and isinstance(current, Mapping) else value
    return out
