"""tests/infra/images/oci.py: the OCI layout it writes, its reproducibility, and its Dockerfile reader."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from tests.infra.images.oci import (
    Entry,
    ImageConfig,
    dockerfile_runtime,
    layer_from_entries,
    layer_from_rootfs,
    write_image,
)


def _read(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    return files[f"blobs/sha256/{digest.removeprefix('sha256:')}"]


def test_layout_is_valid_and_digests_match(tmp_path: Path) -> None:
    layer = layer_from_entries([Entry(None, "/bin/hello", 0o755, 0, 0, text="#!/bin/sh\necho hi\n")], mtime=0)
    config = ImageConfig(entrypoint=["/bin/hello"], user="65534", ports=["8080/tcp"], labels={"a": "b"})
    digest = write_image(layer, config, "example.org/hello:t", tmp_path / "img.tar", mtime=0)
    files = _read(tmp_path / "img.tar")
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    assert entry["digest"] == digest
    assert entry["annotations"]["io.containerd.image.name"] == "example.org/hello:t"
    manifest_bytes = _blob(files, digest)
    assert hashlib.sha256(manifest_bytes).hexdigest() == digest.removeprefix("sha256:")
    manifest: dict[str, Any] = json.loads(manifest_bytes)
    image_config = json.loads(_blob(files, manifest["config"]["digest"]))
    assert image_config["config"]["Entrypoint"] == ["/bin/hello"]
    assert image_config["config"]["User"] == "65534"
    assert image_config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert image_config["config"]["Labels"] == {"a": "b"}
    (layer_desc,) = manifest["layers"]
    compressed = _blob(files, layer_desc["digest"])
    assert layer_desc["size"] == len(compressed)
    raw = gzip.decompress(compressed)
    assert image_config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(raw).hexdigest()}"]
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = {m.name: m for m in tar.getmembers()}
    assert names["bin"].isdir() and names["bin/hello"].mode == 0o755


def test_same_rootfs_gives_same_digest_whatever_the_mtimes(tmp_path: Path) -> None:
    digests = []
    for run in range(2):
        root = tmp_path / f"root{run}"
        (root / "app" / "pkg").mkdir(parents=True)
        (root / "app" / "pkg" / "mod.py").write_text("x = 1\n")
        (root / "etc").mkdir()
        (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
        (root / "usr" / "bin").mkdir(parents=True)
        (root / "usr" / "bin" / "py").symlink_to("python3")
        (root / "app" / "pkg" / "mod.py").touch()  # a different mtime each run
        layer = layer_from_rootfs(root, mtime=1704067200, exclude=["etc/passwd"])
        with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
            names = [m.name for m in tar.getmembers()]
            assert {m.mtime for m in tar.getmembers()} == {1704067200}
        assert "etc/passwd" not in names and names == sorted(names)
        digests.append(write_image(layer, ImageConfig(entrypoint=["py"]), "x:y", tmp_path / f"{run}.tar", 1704067200))
    assert digests[0] == digests[1]


def test_dockerfile_runtime_reads_the_last_stage(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG BASE=debian:bookworm-slim\n"
        "FROM node:22 AS ui\nUSER 1\nEXPOSE 1\n"
        "FROM ${BASE}\n"
        "# comment\n"
        "WORKDIR /app\n"
        "ENV PATH=/app/.venv/bin:$PATH \\\n    A=1 \\\n    B=two\n"
        "USER 10001:10001\nEXPOSE 8000 9100/udp\n"
        'ENTRYPOINT ["tool"]\nCMD ["--help"]\n'
    )
    base, config = dockerfile_runtime(dockerfile)
    assert base == "debian:bookworm-slim"
    assert config.entrypoint == ["tool"] and config.cmd == ["--help"]
    assert config.user == "10001:10001" and config.workdir == "/app"
    assert config.ports == ["8000/tcp", "9100/udp"]
    assert config.env == [
        "PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "A=1",
        "B=two",
    ]
