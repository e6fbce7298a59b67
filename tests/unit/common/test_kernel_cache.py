"""The image's precompiled scoring loops reach a writable numba cache, and their absence is not an error."""

from __future__ import annotations

from pathlib import Path

from gridwatch.common.kernel import seed_cache


def test_seed_is_copied_into_the_cache_dir(tmp_path: Path) -> None:
    seed = tmp_path / "seed" / "common_abc"
    seed.mkdir(parents=True)
    (seed / "kernel.learn-82.py311.nbi").write_bytes(b"index")
    (seed / "kernel.learn-82.py311.1.nbc").write_bytes(b"code")
    cache = tmp_path / "tmp" / "numba"
    copied = seed_cache({"GRIDWATCH_NUMBA_SEED": str(tmp_path / "seed"), "NUMBA_CACHE_DIR": str(cache)})
    assert copied
    assert (cache / "common_abc" / "kernel.learn-82.py311.nbi").read_bytes() == b"index"
    assert (cache / "common_abc" / "kernel.learn-82.py311.1.nbc").read_bytes() == b"code"
    # a second start of the same pod (the cache dir survives in its emptyDir) copies over what is there
    assert seed_cache({"GRIDWATCH_NUMBA_SEED": str(tmp_path / "seed"), "NUMBA_CACHE_DIR": str(cache)})


def test_nothing_to_seed_or_nowhere_to_put_it(tmp_path: Path) -> None:
    assert not seed_cache({})
    assert not seed_cache({"NUMBA_CACHE_DIR": str(tmp_path / "c")})
    assert not seed_cache({"GRIDWATCH_NUMBA_SEED": str(tmp_path / "missing"), "NUMBA_CACHE_DIR": str(tmp_path / "c")})
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "x.nbi").write_bytes(b"i")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert not seed_cache({"GRIDWATCH_NUMBA_SEED": str(seed), "NUMBA_CACHE_DIR": str(blocker / "numba")})
    assert not (tmp_path / "c").exists()


def test_the_image_build_step_caches_both_loops(tmp_path: Path) -> None:
    """What tests/infra/images/build.sh runs in the rootfs: the loops end up in NUMBA_CACHE_DIR, ready to load."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("GRIDWATCH_NUMBA_SEED", None)
    subprocess.run([sys.executable, "-m", "gridwatch.common.scoring"], env=env, check=True, timeout=300)
    names = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    assert {"kernel.learn", "kernel.judge"} <= names
    assert all(any(tmp_path.rglob(f"{n}-*.nbc")) for n in ("kernel.learn", "kernel.judge"))
