"""The Tiltfile's references exist: files, Dockerfiles, charts and their values, resources, make targets.

Tilt cannot run here (no Docker), so the Tiltfile is parsed (Starlark is Python syntax) and every
path, chart, image, value key and resource name it names is checked against the repository.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TILTFILE = REPO / "Tiltfile"


def _constants(tree: ast.Module) -> dict[str, Any]:
    consts: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                consts[node.targets[0].id] = _eval(node.value, consts)
            except ValueError:
                continue
    return consts


def _eval(node: ast.AST, consts: dict[str, Any]) -> Any:
    """Literal values, names of constants, + and % on strings."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, consts) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_eval(k, consts): _eval(v, consts) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _eval(node.left, consts) + _eval(node.right, consts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _eval(node.left, consts) % tuple(_eval(node.right, consts))
    raise ValueError(f"not a constant: {ast.dump(node)[:80]}")


class Call:
    """One call in the Tiltfile with its evaluable arguments (unevaluable ones are left out)."""

    def __init__(self, node: ast.Call, consts: dict[str, Any]) -> None:
        self.node = node
        self.args: list[Any] = []
        self.kwargs: dict[str, Any] = {}
        for arg in node.args:
            try:
                self.args.append(_eval(arg, consts))
            except ValueError:
                self.args.append(None)
        for kw in node.keywords:
            if kw.arg is None:
                continue
            try:
                self.kwargs[kw.arg] = _eval(kw.value, consts)
            except ValueError:
                self.kwargs[kw.arg] = None


def _calls() -> tuple[dict[str, list[Call]], dict[str, Any]]:
    tree = ast.parse(TILTFILE.read_text(), filename="Tiltfile")
    consts = _constants(tree)
    calls: dict[str, list[Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.setdefault(node.func.id, []).append(Call(node, consts))
    return calls, consts


CALLS, CONSTS = _calls()


def _exists(rel: str) -> bool:
    return (REPO / rel.rstrip("/")).exists()


def _yaml_docs(rel: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / rel).read_text()) if d]


def _values(chart: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / chart / "values.yaml").read_text())
    return data


def _has_key(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_only_kind_gridwatch_is_allowed_and_matches_kind_config() -> None:
    [allow] = CALLS["allow_k8s_contexts"]
    assert allow.args == ["kind-gridwatch"]
    kind = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert f"kind-{kind['name']}" == "kind-gridwatch"


def test_docker_builds_reference_existing_files() -> None:
    builds = CALLS["docker_build"]
    assert len(builds) == 2
    for build in builds:
        image, context = build.args[:2]
        assert _exists(context), context
        dockerfile = build.kwargs["dockerfile"]
        assert _exists(dockerfile), dockerfile
        text = (REPO / dockerfile).read_text()
        for path in build.kwargs["only"]:
            assert _exists(path), f"{image}: only={path} does not exist"
        for path in build.kwargs.get("ignore") or []:
            assert path.split("/")[0] in {p.split("/")[0] for p in build.kwargs["only"]}
        assert "USER 10001" in text and "AS build" in text  # multi-stage, non-root
    syncs = CALLS["sync"]
    assert len(syncs) >= 3
    for sync in syncs:
        src, dst = sync.args
        assert _exists(src), src
        assert dst.endswith(src.rstrip("/")), f"sync {src} -> {dst}: the image keeps it elsewhere"
    for fallback in CALLS["fall_back_on"]:
        for path in fallback.args[0]:
            assert _exists(path), path


def test_images_match_the_charts() -> None:
    images = {build.args[0] for build in CALLS["docker_build"]}
    operator = _values("charts/gridwatch-operator")
    site = _values("charts/energy-site")
    assert images == {operator["image"]["repository"], operator["workloadsImage"]["repository"]}
    assert site["image"]["repository"] == operator["workloadsImage"]["repository"]
    dockerfiles = {build.args[0]: build.kwargs["dockerfile"] for build in CALLS["docker_build"]}
    assert dockerfiles[operator["image"]["repository"]] == "operator/Dockerfile"
    assert dockerfiles[site["image"]["repository"]] == "workloads/Dockerfile"


def test_yaml_files_exist_and_parse() -> None:
    for call in CALLS["k8s_yaml"] + CALLS["read_yaml"]:
        path = call.args[0]
        if isinstance(path, str):
            assert _exists(path), path
            assert _yaml_docs(path)


def test_helm_charts_and_their_values_exist() -> None:
    [chart_call] = CALLS["helm"]
    chart = chart_call.args[0]
    meta = yaml.safe_load((REPO / chart / "Chart.yaml").read_text())
    assert meta["name"] == Path(chart).name == chart_call.kwargs["name"]
    values = _values(chart)
    for item in chart_call.kwargs["set"]:
        key = item.split("=", 1)[0]
        assert _has_key(values, key.split(".")[0] if key.startswith("siteValues.") else key), key
    site_values = _values("charts/energy-site")
    for item in chart_call.kwargs["set"]:
        key = item.split("=", 1)[0]
        if key.startswith("siteValues."):
            assert _has_key(site_values, key.removeprefix("siteValues.")), key
    schema = json.loads((REPO / chart / "values.schema.json").read_text())
    assert "siteValues" in schema["properties"] and "dev" in schema["properties"]


def _workload_names() -> set[str]:
    names = set()
    for call in CALLS["k8s_yaml"]:
        path = call.args[0]
        if isinstance(path, str):
            for doc in _yaml_docs(path):
                names.add(f"{doc['metadata']['name']}:{doc['kind'].lower()}")
                if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
                    names.add(doc["metadata"]["name"])
    return names


def test_resources_name_objects_that_exist() -> None:
    names = _workload_names()
    sample = yaml.safe_load((REPO / "config" / "samples" / "energysite.yaml").read_text())
    assert CONSTS["SITE"] == sample["metadata"]["name"]
    names |= {CONSTS["SITE"], "gridwatch-operator"}  # the sample (via encode_yaml) and the chart's Deployment
    local = {c.args[0] for c in CALLS["local_resource"]}
    for call in CALLS["k8s_resource"]:
        if call.args:
            assert call.args[0] in names, call.args[0]
        for obj in call.kwargs.get("objects") or []:
            assert obj in names, obj
        for dep in call.kwargs.get("resource_deps") or []:
            new_names = {c.kwargs.get("new_name") for c in CALLS["k8s_resource"]}
            assert dep in names | new_names | local, dep
    for call in CALLS["local_resource"]:
        for dep in call.kwargs.get("resource_deps") or []:
            assert dep in names | local, dep


def test_local_resources_run_things_that_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    package = json.loads((REPO / "frontend" / "package.json").read_text())
    for call in CALLS["local_resource"]:
        for dep in call.kwargs.get("deps") or []:
            assert _exists(dep), dep
        command = call.kwargs.get("cmd") or call.kwargs.get("serve_cmd") or ""
        if command.startswith("make "):
            target = command.split()[1]
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make target {target}"
        if command.startswith("npm --prefix frontend run "):
            assert command.split()[-1] in package["scripts"]
        if "port-forward svc/" in command:
            service, ports = re.search(r"svc/(\S+) (\d+):(\d+)", command).group(1, 3)  # type: ignore[union-attr]
            assert service == f"{CONSTS['SITE']}-api"
            assert int(ports) == _values("charts/energy-site")["api"]["service"]["port"]


@pytest.mark.parametrize("kind", ["EnergySite"])
def test_k8s_kind_points_at_the_image_field(kind: str) -> None:
    [call] = CALLS["k8s_kind"]
    assert call.args[0] == kind
    assert call.kwargs["image_json_path"] == "{.spec.image}"
    crd = yaml.safe_load((REPO / "crds" / "energysite.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["image"]["type"] == "string"
