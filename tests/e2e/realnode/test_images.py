"""The Docker-free images (`make images`) match their Dockerfiles and the lock file, and carry no build leftovers."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.e2e.cluster import REPO
from tests.e2e.realnode.conftest import IMAGES_BUILD, Image
from tests.infra.images.oci import dockerfile_runtime

PACKAGES = {"workloads": "gridwatch", "operator": "gridwatch-operator"}


@dataclass
class Unpacked:
    """An image's config and its single layer's members and small files."""

    config: dict[str, Any]
    members: dict[str, tarfile.TarInfo]
    layer: bytes

    def read(self, name: str) -> str:
        with tarfile.open(fileobj=io.BytesIO(self.layer)) as tar:
            fh = tar.extractfile(name)
            assert fh is not None, name
            return fh.read().decode()


def _unpack(path: Path) -> Unpacked:
    with tarfile.open(path) as outer:
        blobs = {m.name: m for m in outer.getmembers()}

        def blob(digest: str) -> bytes:
            fh = outer.extractfile(blobs[f"blobs/sha256/{digest.removeprefix('sha256:')}"])
            assert fh is not None
            return fh.read()

        index_fh = outer.extractfile("index.json")
        assert index_fh is not None
        (entry,) = json.load(index_fh)["manifests"]
        manifest = json.loads(blob(entry["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        (layer,) = manifest["layers"]
        raw = gzip.decompress(blob(layer["digest"]))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    return Unpacked(config, members, raw)


@pytest.fixture(scope="module")
def unpacked(built_images: dict[str, Image]) -> dict[str, Unpacked]:
    return {which: _unpack(image.tar) for which, image in built_images.items()}


def _locked(package: str, python: str) -> dict[str, str]:
    """Third-party distributions `uv sync --frozen --no-dev --package X` installs for that Python on Linux."""
    environment = {"python_full_version": python, "python_version": ".".join(python.split(".")[:2])}
    out = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--package", package, "--no-hashes", "--no-annotate"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, str] = {}
    for raw in out.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-e")):
            continue
        requirement, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate(environment):
            continue
        name, _, version = requirement.strip().partition("==")
        found[canonicalize_name(name.split("[")[0])] = version
    return found


@pytest.mark.parametrize("which", ["workloads", "operator"])
def test_runtime_config_is_the_dockerfiles(which: str, unpacked: dict[str, Unpacked]) -> None:
    base, wanted = dockerfile_runtime(REPO / which / "Dockerfile")
    config = unpacked[which].config["config"]
    assert config["Entrypoint"] == wanted.entrypoint
    assert config.get("Cmd") == (wanted.cmd or None)
    assert config["User"] == wanted.user == "10001:10001"
    assert config["WorkingDir"] == wanted.workdir
    assert sorted(config["ExposedPorts"]) == sorted(wanted.ports)
    assert config["Env"] == wanted.env
    labels = config["Labels"]
    for key in ("title", "version", "source", "revision", "created", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.title"] == PACKAGES[which]

    # Same Debian suite and Debian's python3 on both sides.
    build_sh = IMAGES_BUILD.read_text()
    suite = re.search(r"^SUITE=(\S+)", build_sh, re.M)
    packages = re.search(r"^PACKAGES=(\S+)", build_sh, re.M)
    assert suite and packages
    assert base.startswith(f"debian:{suite.group(1)}")
    assert "python3" in packages.group(1).split(",")
    dockerfile = (REPO / which / "Dockerfile").read_text()
    assert re.search(r"apt-get install [^\n]*\bpython3\b", dockerfile)
    assert unpacked[which].read("etc/debian_version").startswith("12.")
    # The same uv command on both sides: the lock file, no dev group, just this package.
    assert f"uv sync --frozen --no-dev --package {PACKAGES[which]}\n" in dockerfile
    assert "uv sync --quiet --frozen --no-dev --package $pkg" in build_sh
    if which == "operator":  # helm: the Dockerfile's alpine/helm tag is the version build.sh builds
        helm_tag = re.search(r"^ARG HELM_IMAGE=alpine/helm:(\S+)", dockerfile, re.M)
        helm_built = re.search(
            r'HELM_VERSION="\$\{HELM_VERSION:-v(\S+)\}"', (REPO / "tests/infra/k8s/build.sh").read_text()
        )
        assert helm_tag and helm_built and helm_tag.group(1) == helm_built.group(1)


@pytest.mark.parametrize("which", ["workloads", "operator"])
def test_python_and_packages_are_the_locked_ones(which: str, unpacked: dict[str, Unpacked]) -> None:
    image = unpacked[which]
    cfg = dict(line.split(" = ", 1) for line in image.read("app/.venv/pyvenv.cfg").splitlines() if " = " in line)
    dpkg = image.read("var/lib/dpkg/status")
    debian_python = re.search(r"Package: python3\.11-minimal\n(?:.+\n)*?Version: (3\.11\.\d+)", dpkg)
    assert debian_python, "Debian's python3.11 is not in the image"
    assert cfg["version_info"].startswith(debian_python.group(1))
    assert cfg["home"] == "/usr/bin"
    installed = {}
    for name in image.members:
        m = re.fullmatch(r"app/\.venv/lib/python3\.11/site-packages/([^/]+)-([^-/]+)\.dist-info", name)
        if m:
            installed[canonicalize_name(m.group(1))] = m.group(2)
    own = installed.pop(canonicalize_name(PACKAGES[which]))
    assert own == re.search(r'^version = "(.+)"', (REPO / which / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]
    assert installed == _locked(PACKAGES[which], debian_python.group(1))
    assert image.members["app/.venv/bin/" + ("gridwatch" if which == "workloads" else "gridwatch-operator")].isfile()


@pytest.mark.parametrize("which", ["workloads", "operator"])
def test_non_root_and_no_build_leftovers(which: str, unpacked: dict[str, Unpacked], capsys: Any) -> None:
    image = unpacked[which]
    assert "gridwatch:x:10001:10001::/app:/usr/sbin/nologin" in image.read("etc/passwd").splitlines()
    app = [m for n, m in image.members.items() if n.startswith("app/")]
    assert app and all(m.uid == 10001 and m.gid == 10001 for m in app)
    names = set(image.members)
    for tool in ("usr/bin/gcc", "usr/bin/cc", "usr/bin/make", "usr/bin/apt", "usr/bin/apt-get", ".uv/uv"):
        assert tool not in names, tool
    assert not [n for n in names if n.startswith(("root/.cache/", ".uv-cache/", "var/lib/apt/lists/", "var/cache/"))]
    assert not [n for n in names if n.endswith("/uv") and image.members[n].isfile()]
    docs = [n for n in names if n.startswith("usr/share/doc/") and not image.members[n].isdir()]
    assert docs and all(n.endswith("/copyright") or image.members[n].issym() for n in docs), docs[:5]
    if which == "workloads":
        assert "app/ui/index.html" in names
    else:
        assert image.members["usr/local/bin/helm"].isfile()
        assert "opt/gridwatch/charts/energy-site/Chart.yaml" in names
    with capsys.disabled():
        print(f"\n[images] {which}: {len(image.layer) / 2**20:.0f} MiB unpacked")
