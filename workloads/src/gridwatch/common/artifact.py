"""Model artifacts as plain arrays + JSON (a NumPy .npz without pickle), checksummed and checked on load.

An artifact is a zip of `.npy` files (numpy.savez): `manifest` holds UTF-8 JSON (format, kind, the name, dtype and
shape of every array, and free `meta`), every other entry is one numeric array. Loading never unpickles:
`numpy.load(..., allow_pickle=False)` refuses object arrays, and anything not declared in the manifest, of a
dtype outside ALLOWED_DTYPES, or whose SHA-256 differs from the registry's is refused with an ArtifactError.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT = "gridwatch-artifact/1"
MANIFEST = "manifest"
ALLOWED_DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "|u1", "|b1"})
MAX_BYTES = 256 * 1024 * 1024  # refuse anything larger than this before opening it


class ArtifactError(ValueError):
    """An artifact that is refused: altered, corrupted, of an unexpected type or shape, or of another kind."""


@dataclass(frozen=True)
class Artifact:
    """A loaded (or to be saved) artifact: its kind, named arrays and JSON metadata."""

    kind: str
    arrays: Mapping[str, npt.NDArray[Any]]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def array(self, name: str, dtype: str, ndim: int) -> npt.NDArray[Any]:
        """One array, checked to have the dtype and number of dimensions the loader expects."""
        arr = self.arrays.get(name)
        if arr is None:
            raise ArtifactError(f"{self.kind} artifact has no array '{name}'")
        if arr.dtype.str != np.dtype(dtype).str or arr.ndim != ndim:
            raise ArtifactError(
                f"{self.kind} artifact array '{name}' is {arr.dtype.str} with {arr.ndim} dimension(s), "
                f"expected {np.dtype(dtype).str} with {ndim}"
            )
        return arr


def checksum(blob: bytes) -> str:
    """SHA-256 (hex) of an artifact's bytes: what the registry records and the loader checks."""
    return hashlib.sha256(blob).hexdigest()


def dumps(artifact: Artifact) -> bytes:
    """The artifact's bytes (deterministic for the same arrays and metadata)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    declared: dict[str, dict[str, Any]] = {}
    for name, value in sorted(artifact.arrays.items()):
        if name == MANIFEST or not name.isidentifier():
            raise ArtifactError(f"invalid array name '{name}'")
        arr = np.ascontiguousarray(value)
        if arr.dtype.str not in ALLOWED_DTYPES:
            raise ArtifactError(f"array '{name}' has dtype {arr.dtype.str}; allowed: {sorted(ALLOWED_DTYPES)}")
        arrays[name] = arr
        declared[name] = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
    manifest = {"format": FORMAT, "kind": artifact.kind, "arrays": declared, "meta": artifact.meta}
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in [(MANIFEST, np.frombuffer(text, dtype=np.uint8)), *arrays.items()]:
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(entry, "w") as fh:
                np.save(fh, arr, allow_pickle=False)
    return buf.getvalue()


def loads(blob: bytes, expected_checksum: str, kind: str) -> Artifact:
    """Verify and load an artifact of `kind`; ArtifactError (with the reason) for anything unexpected."""
    if len(blob) > MAX_BYTES:
        raise ArtifactError(f"artifact is {len(blob)} bytes, more than the {MAX_BYTES} allowed")
    actual = checksum(blob)
    if actual != expected_checksum:
        raise ArtifactError(
            f"artifact checksum mismatch: the registry recorded sha256 {expected_checksum[:16]}…, the bytes hash to "
            f"{actual[:16]}… (altered or corrupted); refusing to load it"
        )
    if not zipfile.is_zipfile(io.BytesIO(blob)):  # np.load would take other bytes for a pickle (and refuse it)
        raise ArtifactError("artifact is not a readable array archive (not a zip of .npy files)")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            names = set(npz.files)
            if MANIFEST not in names:
                raise ArtifactError("artifact has no manifest")
            manifest = json.loads(npz[MANIFEST].tobytes().decode())
            arrays = {name: npz[name] for name in sorted(names - {MANIFEST})}
    except ArtifactError:
        raise
    except ValueError as exc:  # numpy refuses object (pickled) arrays: "Object arrays cannot be loaded ..."
        raise ArtifactError(
            f"artifact holds data of an unexpected type (only plain numeric arrays load): {exc}"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError, UnicodeDecodeError, KeyError) as exc:
        raise ArtifactError(f"artifact is not a readable array archive: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"artifact format is not {FORMAT}")
    if manifest.get("kind") != kind:
        raise ArtifactError(f"artifact is of kind '{manifest.get('kind')}', expected '{kind}'")
    declared = manifest.get("arrays")
    if not isinstance(declared, dict) or set(declared) != set(arrays):
        raise ArtifactError(
            f"artifact arrays {sorted(arrays)} differ from those its manifest declares {sorted(declared or {})}"
        )
    for name, arr in arrays.items():
        spec = declared[name]
        if arr.dtype.str not in ALLOWED_DTYPES:
            raise ArtifactError(f"artifact array '{name}' has unexpected type {arr.dtype.str}")
        if not isinstance(spec, dict) or spec.get("dtype") != arr.dtype.str or spec.get("shape") != list(arr.shape):
            raise ArtifactError(f"artifact array '{name}' does not match its manifest entry {spec}")
    meta = manifest.get("meta", {})
    if not isinstance(meta, dict):
        raise ArtifactError("artifact metadata is not a JSON object")
    return Artifact(kind, arrays, meta)
