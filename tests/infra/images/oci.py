"""Write a reproducible single-layer OCI image-layout tarball (what `ctr images import` loads) with the stdlib only."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass
class Entry:
    """One file put into the layer from the build host (for images that are a few static files)."""

    source: Path | None
    dest: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    text: str | None = None


@dataclass
class ImageConfig:
    """The runtime part of the OCI image config."""

    entrypoint: list[str]
    cmd: list[str] = field(default_factory=list)
    user: str = ""
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def _walk(root: Path) -> Iterator[Path]:
    """Every path below root, sorted, parents before children."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            yield base / name


def _normalize(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    info.mtime = mtime
    info.uname = ""
    info.gname = ""
    info.pax_headers = {}
    return info


def layer_from_rootfs(root: Path, mtime: int, exclude: Iterable[str] = ()) -> bytes:
    """An uncompressed tar of a rootfs directory: sorted, fixed mtimes, owners kept, hard links kept."""
    excluded = tuple(p.strip("/") for p in exclude)
    buf = io.BytesIO()
    seen: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(_walk(root), key=lambda p: p.relative_to(root).as_posix()):
            rel = path.relative_to(root).as_posix()
            if any(rel == e or rel.startswith(e + "/") for e in excluded):
                continue
            st = path.lstat()
            if stat.S_ISSOCK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
                continue
            info = _normalize(tar.gettarinfo(str(path), arcname=rel), mtime)
            if info.isreg() and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    info.type = tarfile.LNKTYPE
                    info.linkname = seen[key]
                    info.size = 0
                    tar.addfile(info)
                    continue
                seen[key] = rel
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


def layer_from_entries(entries: Iterable[Entry], mtime: int) -> bytes:
    """An uncompressed tar of a few files (parent directories added as root:root 0755)."""
    buf = io.BytesIO()
    dirs: set[str] = set()
    items = sorted(entries, key=lambda e: e.dest)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in items:
            parts = entry.dest.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(_normalize(info, mtime))
            data = entry.text.encode() if entry.text is not None else Path(str(entry.source)).read_bytes()
            info = tarfile.TarInfo(entry.dest.strip("/"))
            info.size = len(data)
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            tar.addfile(_normalize(info, mtime), io.BytesIO(data))
    return buf.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes, mtime: int) -> str:
    digest = hashlib.sha256(data).hexdigest()
    info = _normalize(tarfile.TarInfo(f"blobs/sha256/{digest}"), mtime)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
    return digest


def _json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_image(layer_tar: bytes, config: ImageConfig, name: str, out: Path, mtime: int, level: int = 6) -> str:
    """Write an OCI image layout tar with one gzip layer; return the manifest digest (sha256:...)."""
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="", compresslevel=level) as fh:
        fh.write(layer_tar)
    layer_gz = gz.getvalue()
    created = "1970-01-01T00:00:00Z" if mtime == 0 else _iso(mtime)
    image_config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "Entrypoint": config.entrypoint,
            "Cmd": config.cmd or None,
            "User": config.user,
            "Env": config.env,
            "WorkingDir": config.workdir,
            "ExposedPorts": {p: {} for p in config.ports},
            "Labels": config.labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
        "history": [{"created": created, "created_by": "tests/infra/images/oci.py"}],
    }
    image_config["config"] = {k: v for k, v in image_config["config"].items() if v not in (None, "", [], {})}
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        config_bytes = _json(image_config)
        config_digest = _blob(tar, config_bytes, mtime)
        layer_digest = _blob(tar, layer_gz, mtime)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": f"sha256:{config_digest}", "size": len(config_bytes)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": f"sha256:{layer_digest}", "size": len(layer_gz)}],
            "annotations": dict(config.labels),
        }
        manifest_bytes = _json(manifest)
        manifest_digest = _blob(tar, manifest_bytes, mtime)
        index = {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [
                {
                    "mediaType": MEDIA_MANIFEST,
                    "digest": f"sha256:{manifest_digest}",
                    "size": len(manifest_bytes),
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                    },
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
        for fname, data in (("oci-layout", _json({"imageLayoutVersion": "1.0.0"})), ("index.json", _json(index))):
            info = _normalize(tarfile.TarInfo(fname), mtime)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(out)
    return f"sha256:{manifest_digest}"


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _logical_lines(text: str) -> Iterator[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield (buf + line).strip()
        buf = ""
    if buf:
        yield buf.strip()


def dockerfile_runtime(path: Path) -> tuple[str, ImageConfig]:
    """The final stage of a Dockerfile: its base image (ARGs resolved) and runtime config.

    Understands what this project's Dockerfiles use: ARG defaults, FROM, ENV KEY=VALUE lists,
    USER, WORKDIR, EXPOSE and exec-form ENTRYPOINT/CMD.
    """
    import shlex

    args: dict[str, str] = {}
    base = ""
    config = ImageConfig(entrypoint=[])
    env: dict[str, str] = {}
    for line in _logical_lines(path.read_text()):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and not base:
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip()
        elif word == "FROM":
            image = rest.split()[0]
            for key, value in args.items():
                image = image.replace("${" + key + "}", value).replace("$" + key, value)
            base = image
            config = ImageConfig(entrypoint=[])
            env = {"PATH": DEFAULT_PATH}
        elif word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                for k, v in env.items():
                    value = value.replace("${" + k + "}", v).replace("$" + k, v)
                env[key] = value
        elif word == "USER":
            config.user = rest.strip()
        elif word == "WORKDIR":
            config.workdir = rest.strip()
        elif word == "EXPOSE":
            config.ports = [p if "/" in p else f"{p}/tcp" for p in rest.split()]
        elif word == "ENTRYPOINT":
            config.entrypoint = list(json.loads(rest))
        elif word == "CMD":
            config.cmd = list(json.loads(rest))
    config.env = [f"{k}={v}" for k, v in env.items()]
    return base, config


def _iso(epoch: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    """CLI: oci.py --name N --out F (--rootfs DIR | --file SRC:DEST[:MODE[:UID]] ...) --entrypoint JSON ..."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--name", required=True, help="image name, e.g. registry.k8s.io/pause:3.10")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--rootfs", type=Path)
    p.add_argument("--exclude", action="append", default=[], help="rootfs path to leave out (repeatable)")
    p.add_argument("--file", action="append", default=[], help="SRC:DEST[:MODE[:UID]] (repeatable)")
    p.add_argument(
        "--dockerfile", type=Path, help="take entrypoint, cmd, user, env, workdir, ports from its last stage"
    )
    p.add_argument("--entrypoint", default="[]", help="JSON list")
    p.add_argument("--cmd", default="[]", help="JSON list")
    p.add_argument("--user", default="")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--workdir", default="")
    p.add_argument("--port", action="append", default=[], help="e.g. 8000/tcp")
    p.add_argument("--label", action="append", default=[], help="KEY=VALUE")
    p.add_argument("--mtime", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    p.add_argument("--level", type=int, default=6, help="gzip level")
    a = p.parse_args(argv)
    if a.rootfs:
        layer = layer_from_rootfs(a.rootfs, a.mtime, a.exclude)
    else:
        entries = []
        for spec in a.file:
            src, dest, *rest = spec.split(":")
            mode = int(rest[0], 8) if rest else 0o755
            uid = int(rest[1]) if len(rest) > 1 else 0
            entries.append(Entry(Path(src), dest, mode, uid, uid))
        layer = layer_from_entries(entries, a.mtime)
    config = ImageConfig(
        entrypoint=json.loads(a.entrypoint),
        cmd=json.loads(a.cmd),
        user=a.user,
        env=a.env,
        workdir=a.workdir,
        ports=a.port,
    )
    if a.dockerfile:
        _, config = dockerfile_runtime(a.dockerfile)
    config.labels = dict(kv.split("=", 1) for kv in a.label)
    digest = write_image(layer, config, a.name, a.out, a.mtime, a.level)
    print(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
