"""The OpenAPI document committed for the UI's generated types is the one the API publishes (`make api-types`)."""

from __future__ import annotations

from pathlib import Path

from gridwatch.api import export

COMMITTED = Path(__file__).resolve().parents[3] / "frontend" / "src" / "lib" / "api" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    assert COMMITTED.read_text() == export.render(), "the API changed: run `make api-types` and commit the result"


def test_export_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    assert export.main([str(out)]) == 0
    assert out.read_text() == export.render()
    assert export.main([]) == 2
