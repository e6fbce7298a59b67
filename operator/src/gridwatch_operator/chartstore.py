"""The chart a release runs, rebuilt from helm's release record, so a held site takes config changes on it."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client import ApiException

from gridwatch_operator.kube import api_client

_GZIP_MAGIC = b"\x1f\x8b\x08"


class RecordError(RuntimeError):
    """The release record is missing or cannot be decoded."""


def record_name(release: str, revision: int) -> str:
    """helm's storage object of one revision (ConfigMap or Secret, by driver)."""
    return f"sh.helm.release.v1.{release}.v{revision}"


def decode(data: str | bytes) -> dict[str, Any]:
    """helm's `release` field: base64 of (usually gzipped) JSON."""
    raw = base64.b64decode(data)
    if raw[:3] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    try:
        record: dict[str, Any] = json.loads(raw)
    except ValueError as exc:
        raise RecordError(f"helm release record is not JSON: {exc}") from exc
    return record


def read_record(namespace: str, release: str, revision: int, driver: str) -> dict[str, Any]:
    """The stored release (its chart, values, manifest) from the ConfigMap or Secret helm wrote."""
    core = client.CoreV1Api(api_client())
    name = record_name(release, revision)
    try:
        if driver == "secret":
            obj: Any = core.read_namespaced_secret(name, namespace)
            field = base64.b64decode((obj.data or {}).get("release", ""))  # Secret data is base64 once more
        else:
            obj = core.read_namespaced_config_map(name, namespace)
            field = ((obj.data or {}).get("release") or "").encode()
    except ApiException as exc:
        raise RecordError(f"cannot read helm record {namespace}/{name}: {exc.reason}") from exc
    if not field:
        raise RecordError(f"helm record {namespace}/{name} has no release data")
    return decode(field)


def _safe(root: Path, name: str) -> Path:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise RecordError(f"helm record names a file outside the chart: {name!r}")
    return root.joinpath(*rel.parts)


def write_chart(record: Mapping[str, Any], dest: Path) -> Path:
    """Write the record's chart (Chart.yaml, values.yaml, values.schema.json, templates, files) under `dest`."""
    chart = record.get("chart") or {}
    metadata = chart.get("metadata") or {}
    if not metadata.get("name") or not metadata.get("version"):
        raise RecordError("helm record holds no chart metadata")
    if chart.get("dependencies"):
        raise RecordError("charts with dependencies cannot be rebuilt from a release record")
    root = dest / str(metadata["name"])
    root.mkdir(parents=True, exist_ok=True)
    (root / "Chart.yaml").write_text(yaml.safe_dump(dict(metadata), sort_keys=True))
    (root / "values.yaml").write_text(yaml.safe_dump(chart.get("values") or {}, sort_keys=True))
    if chart.get("schema"):
        (root / "values.schema.json").write_bytes(base64.b64decode(chart["schema"]))
    for item in [*(chart.get("templates") or []), *(chart.get("files") or [])]:
        path = _safe(root, str(item.get("name", "")))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(item.get("data") or ""))
    return root
