"""Gateway tokens: only hashes on disk, rotation by rewriting the file, bad files keep the old tokens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gridwatch.ingest.tokens import TokenStore, hash_token, new_token, parse


def test_tokens_resolve_to_their_gateway_and_rotate_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    old, line = new_token("press-7")
    assert old not in line and hash_token(old) in line
    path.write_text(f"# gateways\n{line}\n")
    store = TokenStore(path, check_interval_s=0)
    assert store.gateway(old) == "press-7"
    assert store.gateway("guess") is None
    new, new_line = new_token("press-7")
    path.write_text(new_line + "\n")
    os.utime(path, ns=(1, 1))  # a distinct stamp even within one mtime tick
    assert store.gateway(new) == "press-7"
    assert store.gateway(old) is None


def test_a_broken_file_keeps_the_tokens_loaded_before(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    token, line = new_token("g1")
    path.write_text(line)
    store = TokenStore(path, check_interval_s=0)
    path.write_text("g1 plaintext-token-not-a-hash\n")
    assert store.gateway(token) == "g1"


def test_parse_names_the_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse(f"g1 {hash_token('a')}\ng2 sha256:xyz\n")
