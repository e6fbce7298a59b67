"""Artifacts load only as plain arrays + JSON: a tampered or unexpected artifact is refused with a clear error."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from gridwatch.common.artifact import Artifact, ArtifactError, checksum, dumps, loads
from gridwatch.common.forest import ArrayForest
from sklearn.ensemble import IsolationForest


def sample() -> Artifact:
    return Artifact("detector", {"a": np.arange(5, dtype=np.int64), "b": np.linspace(0, 1, 4)}, {"note": "x"})


def test_round_trip_keeps_arrays_and_meta() -> None:
    blob = dumps(sample())
    out = loads(blob, checksum(blob), "detector")
    assert out.meta == {"note": "x"}
    np.testing.assert_array_equal(out.arrays["a"], np.arange(5))
    np.testing.assert_array_equal(out.arrays["b"], np.linspace(0, 1, 4))
    assert dumps(sample()) == blob  # deterministic bytes


def test_a_flipped_byte_is_refused_by_checksum() -> None:
    blob = bytearray(dumps(sample()))
    recorded = checksum(bytes(blob))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        loads(bytes(blob), recorded, "detector")


def _rezip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _entries(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_a_pickled_object_array_is_refused_even_with_a_matching_checksum() -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("this must never run",))

    entries = _entries(dumps(sample()))
    evil = io.BytesIO()
    np.save(evil, np.array([Payload()], dtype=object), allow_pickle=True)
    entries["b.npy"] = evil.getvalue()
    blob = _rezip(entries)
    with pytest.raises(ArtifactError, match="unexpected type"):
        loads(blob, checksum(blob), "detector")


def test_an_undeclared_array_or_another_kind_is_refused() -> None:
    entries = _entries(dumps(sample()))
    extra = io.BytesIO()
    np.save(extra, np.zeros(3))
    entries["c.npy"] = extra.getvalue()
    blob = _rezip(entries)
    with pytest.raises(ArtifactError, match="differ from those its manifest declares"):
        loads(blob, checksum(blob), "detector")
    good = dumps(sample())
    with pytest.raises(ArtifactError, match="kind 'detector', expected 'forecaster'"):
        loads(good, checksum(good), "forecaster")


def test_a_disallowed_dtype_is_refused_on_save_and_load() -> None:
    with pytest.raises(ArtifactError, match="dtype"):
        dumps(Artifact("detector", {"s": np.array(["text"])}))
    entries = _entries(dumps(sample()))
    odd = io.BytesIO()
    np.save(odd, np.zeros(4, dtype=np.complex128))
    entries["b.npy"] = odd.getvalue()
    blob = _rezip(entries)
    with pytest.raises(ArtifactError, match="unexpected type <c16"):
        loads(blob, checksum(blob), "detector")


def test_garbage_is_refused() -> None:
    blob = b"not a zip at all"
    with pytest.raises(ArtifactError, match="not a readable array archive"):
        loads(blob, checksum(blob), "detector")


def test_a_forest_with_an_array_of_the_wrong_dtype_or_a_loop_is_refused() -> None:
    rng = np.random.default_rng(0)
    forest = ArrayForest.from_sklearn(IsolationForest(n_estimators=5, random_state=0).fit(rng.normal(size=(300, 3))))
    art = forest.to_artifact({})
    bad = Artifact("detector", {**art.arrays, "left": art.arrays["left"].astype(np.float64)}, art.meta)
    with pytest.raises(ArtifactError, match="'left' is <f8"):
        ArrayForest.from_artifact(bad)
    left = art.arrays["left"].copy()
    inner = np.flatnonzero(left >= 0)
    left[inner[-1]] = 0  # a child pointing back at the root: a cycle
    with pytest.raises(ArtifactError, match="malformed"):
        ArrayForest.from_artifact(Artifact("detector", {**art.arrays, "left": left}, art.meta))
