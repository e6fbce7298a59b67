"""The EnergySite CRD: names, printer columns, and every spec field typed, defaulted, bounded, documented.

Also the CRD helpers other operator tests use: defaulting like the API server, and validation.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

REPO = Path(__file__).resolve().parents[3]
CRD_PATH = REPO / "crds" / "energysite.yaml"
SAMPLE_PATH = REPO / "config" / "samples" / "energysite.yaml"


def load_crd() -> dict[str, Any]:
    """The CRD document."""
    data: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return data


def root_schema() -> dict[str, Any]:
    """openAPIV3Schema of v1alpha1."""
    schema: dict[str, Any] = load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def spec_schema() -> dict[str, Any]:
    """Schema of .spec."""
    schema: dict[str, Any] = root_schema()["properties"]["spec"]
    return schema


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Fill defaults the way the API server does: a default applies where a field is absent, then
    the object's own properties are defaulted recursively."""
    if schema.get("type") == "object" and isinstance(value, dict):
        out = dict(value)
        for key, sub in (schema.get("properties") or {}).items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = apply_defaults(sub, out[key])
        return out
    if schema.get("type") == "array" and isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def defaulted_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec as stored by the API server."""
    result: dict[str, Any] = apply_defaults(spec_schema(), spec)
    return result


def validate_spec(spec: dict[str, Any]) -> list[str]:
    """Structural (OpenAPI) errors of a spec; CEL rules are checked on the real API server (e2e)."""
    return [e.message for e in Draft4Validator(spec_schema()).iter_errors(spec)]


def leaves(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every scalar or array field of a schema with its path."""
    if schema.get("type") == "object" and "properties" in schema:
        for key, sub in schema["properties"].items():
            yield from leaves(sub, (*path, key))
    else:
        yield path, schema


def load_sample() -> dict[str, Any]:
    """config/samples/energysite.yaml."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE_PATH.read_text())
    return data


OPERATOR_ONLY_REQUIRED = {("redis", "passwordSecretRef"), ("history", "passwordSecretRef")}


def test_names_scope_and_subresources() -> None:
    crd = load_crd()
    assert crd["metadata"]["name"] == "energysites.gridwatch.io"
    spec = crd["spec"]
    assert spec["group"] == "gridwatch.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "EnergySite"
    assert spec["names"]["shortNames"] == ["esite"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns_are_ready_sensors_processors_lag_age() -> None:
    version = load_crd()["spec"]["versions"][0]
    default_columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert default_columns == ["Ready", "Sensors", "Processors", "Lag(readings)", "Age"]
    paths = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert paths["Lag(readings)"] == ".status.consumerLagReadings"  # the unit is in the column's name
    assert paths["Lag(msgs)"] == ".status.consumerLag"
    assert paths["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert paths["Sensors"] == ".status.sensorsReporting"  # sensors actually reporting, not spec.sensors.count
    status = root_schema()["properties"]["status"]["properties"]
    fields = {"processors", "consumerLag", "consumerLagReadings", "lagEstimate", "conditions", "helm", "scaling"}
    assert fields | {"observedGeneration"} <= set(status)


def _bounded(schema: dict[str, Any]) -> bool:
    kind = str(schema["type"])
    if kind in ("integer", "number"):
        return "maximum" in schema
    if kind == "string":
        return "enum" in schema or "maxLength" in schema
    if kind == "array":
        return "maxItems" in schema
    if kind == "object":  # a map (annotations): bounded by its number of keys
        return "maxProperties" in schema
    return kind == "boolean"


def test_every_spec_field_is_typed_defaulted_bounded_and_described() -> None:
    problems: list[str] = []
    for path, field in leaves(spec_schema()):
        where = ".".join(path)
        if "type" not in field:
            problems.append(f"{where}: no type")
            continue
        if "description" not in field:
            problems.append(f"{where}: no description")
        # fields of optional objects that are required when the object is given (a Secret reference, a workload's
        # own PostgreSQL role) have no default: the API server would refuse a default their own pattern rejects
        inside_optional_ref = any(p.endswith("SecretRef") for p in path) or "roles" in path
        inside_list_item = field.get("type") != "array" and any(p in ("rules", "routes") for p in path)
        if "default" not in field and not inside_optional_ref and not inside_list_item:
            problems.append(f"{where}: no default")
        if not _bounded(field):
            problems.append(f"{where}: unbounded {field['type']}")
    assert problems == []


def all_nodes(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every schema node (objects, arrays and leaves) with its path."""
    yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from all_nodes(sub, (*path, key))
    if isinstance(schema.get("items"), dict):
        yield from all_nodes(schema["items"], (*path, "[]"))


def test_every_default_is_valid_for_its_own_field() -> None:
    """The API server refuses a CRD whose defaults fail their own schema (pattern, enum, bounds), and with it every
    install and upgrade of the operator chart; found when a default of "" met a pattern that needs a letter."""
    problems = [
        f"{'.'.join(path)}: default {node['default']!r}: {err.message}"
        for path, node in all_nodes(spec_schema())
        if "default" in node
        for err in Draft4Validator({k: v for k, v in node.items() if k != "default"}).iter_errors(node["default"])
    ]
    assert problems == []


def test_objects_default_to_empty_so_nested_defaults_apply() -> None:
    missing = [
        key for key, sub in spec_schema()["properties"].items() if sub["type"] == "object" and sub.get("default") != {}
    ]
    assert missing == []


def test_cross_field_rules_carry_messages_a_person_understands() -> None:
    rules: list[dict[str, str]] = []

    def walk(schema: dict[str, Any]) -> None:
        rules.extend(schema.get("x-kubernetes-validations") or [])
        for sub in (schema.get("properties") or {}).values():
            walk(sub)
        if "items" in schema:
            walk(schema["items"])

    walk(root_schema())
    assert len(rules) >= 12
    for rule in rules:
        assert rule["rule"]
        assert len(rule["message"]) > 30, rule
        assert "self" not in rule["message"], rule  # messages name fields, not CEL variables


def test_empty_spec_defaults_to_a_complete_valid_site() -> None:
    spec = defaulted_spec({})
    assert validate_spec(spec) == []
    assert spec["sensors"]["count"] == 300
    assert spec["processor"]["autoscaling"] == {
        "enabled": False,
        "engine": "Operator",
        "readingsPerMessage": 500,
        "activationLag": 0,
        "minReplicas": 1,
        "maxReplicas": 4,
        "lagUnit": "readings",
        "lagPerReplica": 25000,
        "cooldownSeconds": 300,
    }
    assert spec["analytics"]["battery"]["socMin"] < spec["analytics"]["battery"]["socMax"]
    assert spec["paused"] is False


def test_sample_site_is_valid_and_names_a_site() -> None:
    sample = load_sample()
    assert sample["apiVersion"] == "gridwatch.io/v1alpha1"
    assert sample["kind"] == "EnergySite"
    assert len(sample["metadata"]["name"]) <= 40
    assert validate_spec(defaulted_spec(sample["spec"])) == []


def test_schema_rejects_what_the_structure_forbids() -> None:
    base = defaulted_spec({})
    bad = [
        {**base, "sensors": {**base["sensors"], "anomalyRate": 0.9}},
        {**base, "sensors": {**base["sensors"], "mix": ["plasma"]}},
        {**base, "kafka": {**base["kafka"], "bootstrapServers": "no-port"}},
        {**base, "api": {**base["api"], "replicas": 0}},
        {**base, "image": "UPPER/case"},
    ]
    for spec in bad:
        assert validate_spec(spec), spec


def _schedule_rule() -> tuple[re.Pattern[str], str]:
    """The CEL rule on spec.trainer.schedule, a single `self.matches(RE2)`, as a Python regex and its message."""
    [rule] = spec_schema()["properties"]["trainer"]["properties"]["schedule"]["x-kubernetes-validations"]
    match = re.fullmatch(r'self\.matches\("(.*)"\)', rule["rule"])
    assert match is not None, rule["rule"]
    assert "\\" not in match.group(1)  # no escapes: CEL string literals and RE2 read it alike
    return re.compile(match.group(1)), rule["message"]


def test_trainer_defaults_to_a_nightly_run_of_every_model() -> None:
    assert defaulted_spec({})["trainer"] == {
        "enabled": True,
        "schedule": "17 3 * * *",
        "model": "all",
        "promoteMargin": 0.02,
        "autoPromote": True,
        "detectorHours": 24,
    }
    assert validate_spec(defaulted_spec({"trainer": {"model": "oracle"}}))
    assert validate_spec(defaulted_spec({"trainer": {"promoteMargin": 1.5}}))


def test_the_trainer_schedule_rule_accepts_cron_and_explains_what_it_refuses() -> None:
    pattern, message = _schedule_rule()
    good = ["17 3 * * *", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "0,30 * ? * ?", "59 23 31 12 6", "0 0 1 jan,Jul sun"]
    good += ["@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@midnight", " 5 1  * * 0 "]
    bad = ["", "nightly", "17 3 * *", "1 2 3 4 5 6", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *"]
    bad += ["* * * * 7", "*/0 * * * *", "@every 1h", "@often", "TZ=UTC 0 0 * * *", "0 0 * * * ; rm -rf /"]
    assert [s for s in good if not pattern.search(s)] == []
    assert [s for s in bad if pattern.search(s)] == []
    assert message.startswith("trainer.schedule must be a cron schedule of five fields") and "'17 3 * * *'" in message
